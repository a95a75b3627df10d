/*
 * client.c: one blocking call to the admin API over libcurl's easy
 * interface.
 *
 * The admin API listens on a unix socket or a loopback port and nowhere
 * else, so the call is deliberately narrow: plain HTTP/1.1 only, no proxy
 * (an http_proxy in the environment must not see the admin token), no
 * redirect (a redirect would carry the Authorization header elsewhere), a
 * 10 s total timeout and a bounded reply. For a unix socket libcurl
 * connects to the path and the URL only supplies the request line and the
 * Host header.
 *
 * The token lives in a stack buffer and in the header list libcurl copies
 * it into; both are wiped before they are freed.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "admin/client.h"
#include "common/base/alloc.h"
#include "common/base/errors.h"
#include "common/wire/json.h"

/*
 * Deep enough for any key object with its 511-byte metadata, shallow
 * enough that jansson's recursive dump cannot exhaust the stack.
 */
#define CLIENT_JSON_DEPTH_MAX 600

typedef struct {
    char    *data;
    size_t   len;
    size_t   cap;
    int      is_too_large;
} client_buf_t;

static int client_hostport_parse(const char *hp, char *errbuf,
                                 size_t errsize);
static size_t client_write_cb(char *ptr, size_t size, size_t nmemb,
                              void *userdata);
static void client_headers_free(struct curl_slist *headers);
static fg_admin_call_t client_curl_error(const fg_admin_addr_t *addr,
                                         CURL *easy, CURLcode rc,
                                         const char *curl_err,
                                         int is_too_large, char *errbuf,
                                         size_t errsize);

int
fg_admin_addr_parse(const char *text, fg_admin_addr_t *addr, char *errbuf,
                    size_t errsize)
{
    const char *hp;
    size_t      len;

    memset(addr, 0, sizeof(*addr));
    if (text == NULL || text[0] == '\0') {
        snprintf(errbuf, errsize, "the admin address is empty");
        return -1;
    }
    len = strlen(text);
    if (len >= sizeof(addr->text)) {
        snprintf(errbuf, errsize, "the admin address is too long");
        return -1;
    }
    memcpy(addr->text, text, len + 1);

    if (strncmp(text, "unix:", 5) == 0) {
        /* sun_path holds 108 bytes with its NUL on Linux. */
        if (text[5] != '/' || len - 5 >= 108) {
            snprintf(errbuf, errsize, "admin address \"%s\": a unix socket "
                     "needs an absolute path of at most 107 bytes", text);
            return -1;
        }
        memcpy(addr->unix_path, text + 5, len - 5 + 1);
        snprintf(addr->base_url, sizeof(addr->base_url), "http://localhost");
        return 0;
    }

    if (strncmp(text, "https://", 8) == 0) {
        snprintf(errbuf, errsize, "admin address \"%s\": the admin API "
                 "speaks plain HTTP on loopback; use http:// or unix:", text);
        return -1;
    }
    hp = strncmp(text, "http://", 7) == 0 ? text + 7 : text;
    if (strstr(hp, "://") != NULL) {
        snprintf(errbuf, errsize, "admin address \"%s\": expected "
                 "unix:/path or http://HOST:PORT", text);
        return -1;
    }
    len = strlen(hp);
    if (len > 0 && hp[len - 1] == '/') {
        len--;
    }
    snprintf(addr->base_url, sizeof(addr->base_url), "http://%.*s",
             (int) len, hp);
    if (client_hostport_parse(addr->base_url + 7, errbuf, errsize) != 0) {
        char reason[FG_ADMIN_ERR_MAX];

        snprintf(reason, sizeof(reason), "%s", errbuf);
        snprintf(errbuf, errsize, "admin address \"%s\": %s", text, reason);
        return -1;
    }
    return 0;
}

/* Checks "HOST:PORT" (HOST may be "[v6]"): no path, a port 1-65535. */
static int
client_hostport_parse(const char *hp, char *errbuf, size_t errsize)
{
    const char *colon, *p;
    long        port = 0;

    if (strpbrk(hp, "/?#@ \t\r\n") != NULL) {
        snprintf(errbuf, errsize, "expected HOST:PORT with no path");
        return -1;
    }
    colon = strrchr(hp, ':');
    if (colon == NULL || colon == hp || (hp[0] == '[' && colon[-1] != ']')) {
        snprintf(errbuf, errsize, "expected HOST:PORT");
        return -1;
    }
    if (colon[1] == '\0') {
        snprintf(errbuf, errsize, "the port is missing");
        return -1;
    }
    for (p = colon + 1; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || port > 65535) {
            snprintf(errbuf, errsize, "the port is not a number 1-65535");
            return -1;
        }
        port = port * 10 + (*p - '0');
    }
    if (port < 1 || port > 65535) {
        snprintf(errbuf, errsize, "the port is not a number 1-65535");
        return -1;
    }
    return 0;
}

int
fg_admin_token_is_valid(const char *token)
{
    size_t i;

    for (i = 0; token[i] != '\0'; i++) {
        if ((unsigned char) token[i] <= 0x20
            || (unsigned char) token[i] >= 0x7f) {
            return 0;
        }
    }
    return i > 0 && i < FG_ADMIN_TOKEN_MAX;
}

int
fg_admin_token_read(const char *path, char *token, size_t size,
                    char *errbuf, size_t errsize)
{
    FILE   *f;
    size_t  n;
    int     is_long;

    if (size < 2) {
        snprintf(errbuf, errsize, "no room for the admin token");
        return -1;
    }
    f = fopen(path, "re");
    if (f == NULL) {
        snprintf(errbuf, errsize, "no admin token: cannot read %s (%s)",
                 path, strerror(errno));
        return -1;
    }
    /* Read one byte more than fits, to tell "too long" from "fits". */
    n = fread(token, 1, size - 1, f);
    is_long = n == size - 1 && fgetc(f) != EOF;
    if (ferror(f)) {
        snprintf(errbuf, errsize, "no admin token: reading %s failed (%s)",
                 path, strerror(errno));
        fclose(f);
        explicit_bzero(token, size);
        return -1;
    }
    fclose(f);
    token[n] = '\0';
    if (n > 0 && token[n - 1] == '\n') {
        token[--n] = '\0';
        if (n > 0 && token[n - 1] == '\r') {
            token[--n] = '\0';
        }
    }
    if (is_long) {
        snprintf(errbuf, errsize, "the admin token in %s is too long", path);
    } else if (n == 0) {
        snprintf(errbuf, errsize, "the admin token file %s is empty", path);
    } else if (strlen(token) != n || !fg_admin_token_is_valid(token)) {
        snprintf(errbuf, errsize, "the admin token in %s holds a blank or a "
                 "control character", path);
    } else {
        return 0;
    }
    explicit_bzero(token, size);
    return -1;
}

fg_admin_call_t
fg_admin_call(const fg_admin_addr_t *addr, const char *token,
              const char *method, const char *path, const json_t *body,
              fg_admin_reply_t *reply, char *errbuf, size_t errsize)
{
    CURL               *easy;
    CURLcode            rc;
    struct curl_slist  *headers = NULL;
    client_buf_t        buf;
    fg_admin_call_t     outcome;
    char                url[2 * FG_ADMIN_URL_MAX];
    char                line[FG_ADMIN_TOKEN_MAX + 32];
    char                curl_err[CURL_ERROR_SIZE];
    char               *payload = NULL;
    fg_err_t            jerr;

    memset(reply, 0, sizeof(*reply));
    memset(&buf, 0, sizeof(buf));
    curl_err[0] = '\0';

    if ((size_t) snprintf(url, sizeof(url), "%s%s", addr->base_url, path)
        >= sizeof(url))
    {
        snprintf(errbuf, errsize, "the request path is too long");
        return FG_ADMIN_CALL_BROKEN;
    }
    easy = curl_easy_init();
    if (easy == NULL) {
        snprintf(errbuf, errsize, "curl_easy_init() failed");
        return FG_ADMIN_CALL_BROKEN;
    }

    snprintf(line, sizeof(line), "Authorization: Bearer %s", token);
    headers = curl_slist_append(headers, line);
    explicit_bzero(line, sizeof(line));
    headers = curl_slist_append(headers, "Accept: application/json");
    /* The bodies are small: send them at once, without waiting for a
     * 100-continue. */
    headers = curl_slist_append(headers, "Expect:");

    if (body != NULL) {
        payload = json_dumps(body, JSON_COMPACT);
        if (payload == NULL) {
            snprintf(errbuf, errsize, "cannot serialise the request body");
            client_headers_free(headers);
            curl_easy_cleanup(easy);
            return FG_ADMIN_CALL_BROKEN;
        }
        headers = curl_slist_append(headers,
                                    "Content-Type: application/json");
    } else if (strcmp(method, "GET") != 0) {
        /* An empty POST is no form: drop libcurl's default type. */
        headers = curl_slist_append(headers, "Content-Type:");
    }
    if (headers == NULL) {
        snprintf(errbuf, errsize, "curl_slist_append() failed");
        free(payload);
        curl_easy_cleanup(easy);
        return FG_ADMIN_CALL_BROKEN;
    }

    curl_easy_setopt(easy, CURLOPT_URL, url);
    if (addr->unix_path[0] != '\0') {
        curl_easy_setopt(easy, CURLOPT_UNIX_SOCKET_PATH, addr->unix_path);
    }
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    if (strcmp(method, "GET") != 0) {
        /* POSTFIELDS makes it a POST; CUSTOMREQUEST renames it (PATCH). */
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, payload ? payload : "");
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t) (payload ? strlen(payload) : 0));
        if (strcmp(method, "POST") != 0) {
            curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
        }
    }
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, client_write_cb);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &buf);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long) FG_ADMIN_TIMEOUT_MS);
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION,
                     (long) CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE,
                     (curl_off_t) FG_ADMIN_REPLY_MAX_BYTES);

    rc = curl_easy_perform(easy);
    if (rc != CURLE_OK) {
        outcome = client_curl_error(addr, easy, rc, curl_err,
                                    buf.is_too_large, errbuf, errsize);
    } else {
        outcome = FG_ADMIN_CALL_OK;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &reply->status);
        if (buf.len > 0) {
            /* A body that is not JSON stays NULL; the status decides. */
            reply->body = fg_json_load_body(buf.data, buf.len,
                                            CLIENT_JSON_DEPTH_MAX, &jerr);
        }
    }

    client_headers_free(headers);
    curl_easy_cleanup(easy);
    free(payload);
    free(buf.data);
    return outcome;
}

void
fg_admin_reply_cleanup(fg_admin_reply_t *reply)
{
    if (reply == NULL) {
        return;
    }
    json_decref(reply->body);
    reply->body = NULL;
    reply->status = 0;
}

static size_t
client_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    client_buf_t *buf = userdata;
    size_t        n = size * nmemb;

    if (n > FG_ADMIN_REPLY_MAX_BYTES - buf->len) {
        buf->is_too_large = 1;
        return 0;
    }
    if (buf->len + n > buf->cap) {
        buf->cap = buf->cap ? buf->cap : 4096;
        while (buf->cap < buf->len + n) {
            buf->cap *= 2;
        }
        buf->data = fg_xrealloc(buf->data, buf->cap);
    }
    memcpy(buf->data + buf->len, ptr, n);
    buf->len += n;
    return n;
}

/* The first header carries the token: wipe every copy before freeing. */
static void
client_headers_free(struct curl_slist *headers)
{
    struct curl_slist *h;

    for (h = headers; h != NULL; h = h->next) {
        explicit_bzero(h->data, strlen(h->data));
    }
    curl_slist_free_all(headers);
}

/*
 * Sorts a libcurl failure into "never reached the API" (the gateway is
 * probably not running, or the address is wrong) and "reached it, but the
 * exchange broke" (the gateway failed), with a message for people.
 */
static fg_admin_call_t
client_curl_error(const fg_admin_addr_t *addr, CURL *easy, CURLcode rc,
                  const char *curl_err, int is_too_large, char *errbuf,
                  size_t errsize)
{
    long        os_errno = 0;
    const char *reason;

    curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);
    reason = curl_err[0] != '\0' ? curl_err : curl_easy_strerror(rc);

    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
        if (os_errno != 0) {
            reason = strerror((int) os_errno);
        }
        snprintf(errbuf, errsize, "cannot reach the admin API at %s (%s); "
                 "is the gateway running, and is this its admin.listen?",
                 addr->text, reason);
        return FG_ADMIN_CALL_UNREACHABLE;

    case CURLE_OPERATION_TIMEDOUT:
        snprintf(errbuf, errsize, "the admin API at %s did not answer "
                 "within %d s", addr->text, FG_ADMIN_TIMEOUT_MS / 1000);
        return FG_ADMIN_CALL_UNREACHABLE;

    case CURLE_FILESIZE_EXCEEDED:
        is_too_large = 1;
        /* fall through */
    case CURLE_WRITE_ERROR:
        if (is_too_large) {
            snprintf(errbuf, errsize, "the admin API at %s sent a reply "
                     "larger than %d MiB", addr->text,
                     FG_ADMIN_REPLY_MAX_BYTES / (1024 * 1024));
            return FG_ADMIN_CALL_BROKEN;
        }
        break;

    case CURLE_GOT_NOTHING:
        snprintf(errbuf, errsize, "the admin API at %s closed the "
                 "connection without a reply", addr->text);
        return FG_ADMIN_CALL_BROKEN;

    default:
        break;
    }
    snprintf(errbuf, errsize, "the call to the admin API at %s failed (%s)",
             addr->text, reason);
    return FG_ADMIN_CALL_BROKEN;
}
