#ifndef FG_ADMIN_CLIENT_H
#define FG_ADMIN_CLIENT_H

/*
 * The admin API's client side: where it is (a unix socket or a loopback
 * TCP port), the token that opens it, and one blocking libcurl call that
 * returns the HTTP status and the parsed JSON reply.
 *
 * Nothing here prints or exits; failures come back as an outcome and a
 * message in a caller-supplied buffer. No message ever contains the
 * token.
 */

#include <stddef.h>

#include <jansson.h>

#define FG_ADMIN_URL_MAX        512
#define FG_ADMIN_TOKEN_MAX      512
#define FG_ADMIN_ERR_MAX        512
#define FG_ADMIN_TIMEOUT_MS     10000
#define FG_ADMIN_REPLY_MAX_BYTES (16 * 1024 * 1024)

typedef struct {
    char    text[FG_ADMIN_URL_MAX];      /* as given, for messages */
    char    base_url[FG_ADMIN_URL_MAX];  /* "http://127.0.0.1:9000" */
    char    unix_path[FG_ADMIN_URL_MAX]; /* "" for TCP */
} fg_admin_addr_t;

typedef enum {
    FG_ADMIN_CALL_OK = 0,       /* an HTTP reply came back, any status */
    FG_ADMIN_CALL_UNREACHABLE,  /* no connection, or no reply in time */
    FG_ADMIN_CALL_BROKEN        /* connected, but no usable HTTP reply */
} fg_admin_call_t;

typedef struct {
    long     status;    /* HTTP status */
    json_t  *body;      /* owned; NULL when the body is empty or not JSON */
} fg_admin_reply_t;

/*
 * Parses an admin address into @addr: "unix:/abs/path.sock",
 * "http://HOST:PORT" (one trailing '/' allowed, no other path), or
 * "HOST:PORT" as admin.listen spells it. Returns 0, or -1 with a reason in
 * @errbuf (@errsize bytes). Cannot fail otherwise.
 */
int fg_admin_addr_parse(const char *text, fg_admin_addr_t *addr,
                        char *errbuf, size_t errsize);

/*
 * Reads the admin token from the file at @path into @token (@size bytes):
 * the file's content with one trailing "\n" or "\r\n" removed. Refuses an
 * empty token, one longer than @size - 1, and one holding a blank or a
 * control character (it goes into an HTTP header). Returns 0, or -1 with a
 * reason in @errbuf that names the file but never quotes its content.
 */
int fg_admin_token_read(const char *path, char *token, size_t size,
                        char *errbuf, size_t errsize);

/*
 * Returns 1 if @token can be sent as a bearer token: 1 to
 * FG_ADMIN_TOKEN_MAX - 1 bytes of visible ASCII. Cannot fail.
 */
int fg_admin_token_is_valid(const char *token);

/*
 * Calls @method @path (path and query, already escaped) at @addr with
 * "Authorization: Bearer @token". When @body is not NULL it is sent as
 * JSON with Content-Type application/json; a POST without a body is sent
 * empty. 10 s total timeout, no redirect, no proxy, plain HTTP only, a
 * reply larger than FG_ADMIN_REPLY_MAX_BYTES is refused.
 *
 * On FG_ADMIN_CALL_OK @reply holds the status and the parsed body (owned
 * by the caller; release with fg_admin_reply_cleanup()). Otherwise @reply
 * is empty and @errbuf says what happened, naming @addr->text. Blocks for
 * at most the timeout; curl_global_init() must have run.
 */
fg_admin_call_t fg_admin_call(const fg_admin_addr_t *addr, const char *token,
                              const char *method, const char *path,
                              const json_t *body, fg_admin_reply_t *reply,
                              char *errbuf, size_t errsize);

/* Releases what @reply holds; accepts an empty reply. */
void fg_admin_reply_cleanup(fg_admin_reply_t *reply);

#endif
