/*
 * upstream_curl.c: the libcurl client of the upstream interface, libcurl's
 * multi interface on the worker's event_base. It serves what the native
 * client does not: https (HTTP/2 negotiated where offered), names to
 * resolve, and everything when upstream.native_http is off.
 *
 * The classic socket-action arrangement: libcurl tells us which sockets to
 * watch (upstream_curl_socket_cb) and when to wake it (upstream_curl_timer_cb); we turn those
 * into libevent events whose callbacks call curl_multi_socket_action() and
 * then collect finished transfers. All of it runs in the one event loop,
 * so a worker holds thousands of upstream calls with no thread and no
 * blocking call.
 *
 * Two rules keep re-entrancy safe:
 *   1) nothing called from a libcurl callback removes an easy handle: the
 *      owner may ask for a pause (CURL_WRITEFUNC_PAUSE) or an abort (0
 *      bytes taken), and ends a request only through fg_req_finish_later();
 *   2) fg_upstream_end() is called only from upstream_curl_check_done(), outside
 *      every libcurl callback, and after it the transfer is out of the
 *      multi, so the attempt may be freed or reinitialised at once.
 *
 * No retry of our own, and none of libcurl's that could send a request
 * twice. libcurl retries a request by itself when a reused connection
 * dies before any byte of the reply (Curl_retry_request: the server may
 * have closed it idle just as we wrote), and on a refused HTTP/2 stream.
 * It re-sends at once when it wrote no byte of the body: that request
 * provably never arrived whole, so it was never processed. When it had
 * written some, it must first rewind the body, which it does through the
 * seek callback; so the body is given through a read callback (not
 * CURLOPT_POSTFIELDS, which libcurl rewinds silently) and the seek
 * callback refuses: the transfer then fails (CURLE_SEND_FAIL_REWIND) and
 * the attempt ends as "sent, no reply" or "not sent", for the owner to
 * decide. libcurl's own total timeout is not set: the total deadline is
 * upstream.c's, as for the native client; libcurl keeps only connect.
 *
 * Easy handles are recycled through a small free list; curl_easy_reset()
 * keeps the multi's connection cache, which is what makes keep-alive to
 * the upstream work across requests.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "common/base/alloc.h"
#include "common/base/log.h"
#include "worker/upstream.h"

#define CURL_POOL_MAX 64

typedef struct {
    CURL   *handles[CURL_POOL_MAX];
    int     count;
} upstream_curl_pool_t;

typedef struct {
    fg_worker_t    *worker;
    curl_socket_t   fd;
    short           events;
    struct event    ev;
} upstream_curl_sock_t;

/* One attempt's libcurl state (up->client). */
typedef struct {
    CURL              *easy;
    struct curl_slist *headers;
    size_t             body_taken;    /* handed to libcurl so far */
    int                is_rewind_asked;   /* the seek callback ran */
    size_t             head_bytes;    /* of the reply's heads so far */
    int                is_head_too_large;
    int                is_in_multi;
    int                socket_errno;  /* why libcurl got no socket, or 0 */
    char               error[CURL_ERROR_SIZE];
} upstream_curl_xfer_t;

static int upstream_curl_start(fg_upstream_t *up, fg_err_t *err);
static void upstream_curl_pause(fg_upstream_t *up, int on);
static void upstream_curl_cancel(fg_upstream_t *up);
static void upstream_curl_reinit(fg_upstream_t *up);
static void upstream_curl_free(fg_upstream_t *up);
static int upstream_curl_socket_cb(CURL *easy, curl_socket_t s, int what,
                          void *userp, void *socketp);
static int upstream_curl_timer_cb(CURLM *multi, long timeout_ms, void *userp);
static void upstream_curl_event_cb(evutil_socket_t fd, short what, void *arg);
static void upstream_curl_timeout_cb(evutil_socket_t fd, short what, void *arg);
static void upstream_curl_check_done(fg_worker_t *w);
static void upstream_curl_take_marks(fg_upstream_t *up);
static size_t upstream_curl_read_cb(char *buf, size_t size, size_t n, void *arg);
static int upstream_curl_seek_cb(void *arg, curl_off_t offset, int origin);
static size_t upstream_curl_write_cb(char *data, size_t size, size_t n, void *arg);
static size_t upstream_curl_header_cb(char *data, size_t size, size_t n, void *arg);
static const char *upstream_curl_detail_of(CURLcode rc);
static curl_socket_t upstream_curl_open_cb(void *arg,
                                           curlsocktype purpose,
                                           struct curl_sockaddr *addr);
static CURL *upstream_curl_easy_get(fg_worker_t *w);
static void upstream_curl_easy_put(fg_worker_t *w, CURL *easy);

const fg_upstream_ops_t fg_upstream_curl_ops = {
    "libcurl", upstream_curl_start, upstream_curl_pause, upstream_curl_cancel,
    upstream_curl_reinit, upstream_curl_free
};

int
fg_upstream_curl_init(fg_worker_t *w, fg_err_t *err)
{
    w->multi = curl_multi_init();
    if (w->multi == NULL) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "curl_multi_init failed");
    }
    curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, upstream_curl_socket_cb);
    curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, upstream_curl_timer_cb);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, w);
    curl_multi_setopt(w->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    curl_multi_setopt(w->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                      (long) w->conf->upstream_max_connections);
    curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS,
                      (long) w->conf->upstream_max_connections);
    w->curl_timer_ev = evtimer_new(w->base, upstream_curl_timeout_cb, w);
    w->easy_pool = fg_xcalloc(1, sizeof(upstream_curl_pool_t));
    return FG_OK;
}

void
fg_upstream_curl_cleanup(fg_worker_t *w)
{
    upstream_curl_pool_t *pool = w->easy_pool;
    int          i;

    if (pool != NULL) {
        for (i = 0; i < pool->count; i++) {
            curl_easy_cleanup(pool->handles[i]);
        }
        free(pool);
        w->easy_pool = NULL;
    }
    if (w->multi != NULL) {
        curl_multi_cleanup(w->multi);
        w->multi = NULL;
    }
    if (w->curl_timer_ev != NULL) {
        event_free(w->curl_timer_ev);
        w->curl_timer_ev = NULL;
    }
}

static CURL *
upstream_curl_easy_get(fg_worker_t *w)
{
    upstream_curl_pool_t *pool = w->easy_pool;

    if (pool->count > 0) {
        return pool->handles[--pool->count];
    }
    return curl_easy_init();
}

static void
upstream_curl_easy_put(fg_worker_t *w, CURL *easy)
{
    upstream_curl_pool_t *pool = w->easy_pool;

    if (pool != NULL && pool->count < CURL_POOL_MAX) {
        curl_easy_reset(easy);
        pool->handles[pool->count++] = easy;
    } else {
        curl_easy_cleanup(easy);
    }
}

static int
upstream_curl_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp,
               void *socketp)
{
    fg_worker_t *w = userp;
    upstream_curl_sock_t *sock = socketp;
    short        events;

    (void) easy;
    if (what == CURL_POLL_REMOVE) {
        if (sock != NULL) {
            event_del(&sock->ev);
            free(sock);
            curl_multi_assign(w->multi, s, NULL);
        }
        return 0;
    }
    events = EV_PERSIST;
    if (what & CURL_POLL_IN) {
        events |= EV_READ;
    }
    if (what & CURL_POLL_OUT) {
        events |= EV_WRITE;
    }
    if (sock == NULL) {
        sock = fg_xcalloc(1, sizeof(*sock));
        sock->worker = w;
        sock->fd = s;
        curl_multi_assign(w->multi, s, sock);
    } else if (sock->events == events) {
        return 0;
    } else {
        event_del(&sock->ev);
    }
    sock->events = events;
    event_assign(&sock->ev, w->base, s, events, upstream_curl_event_cb, sock);
    event_add(&sock->ev, NULL);
    return 0;
}

static int
upstream_curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    fg_worker_t   *w = userp;
    struct timeval tv;

    (void) multi;
    if (timeout_ms < 0) {
        evtimer_del(w->curl_timer_ev);
        return 0;
    }
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    evtimer_add(w->curl_timer_ev, &tv);
    return 0;
}

static void
upstream_curl_event_cb(evutil_socket_t fd, short what, void *arg)
{
    upstream_curl_sock_t *sock = arg;
    fg_worker_t *w = sock->worker;
    int          running, flags = 0;

    if (what & EV_READ) {
        flags |= CURL_CSELECT_IN;
    }
    if (what & EV_WRITE) {
        flags |= CURL_CSELECT_OUT;
    }
    /* May free sock through upstream_curl_socket_cb(CURL_POLL_REMOVE). */
    curl_multi_socket_action(w->multi, fd, flags, &running);
    upstream_curl_check_done(w);
}

static void
upstream_curl_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    fg_worker_t *w = arg;
    int          running;

    (void) fd;
    (void) what;
    curl_multi_socket_action(w->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    upstream_curl_check_done(w);
}

/* How far libcurl got, in the shared progress marks. */
static void
upstream_curl_take_marks(fg_upstream_t *up)
{
    upstream_curl_xfer_t *x = up->client;
    curl_off_t   sent = 0, connect_us = 0;

    /*
     * Bytes of the body written to the connection: libcurl counts them as
     * its writes succeed, not as it reads them from us. Its retry
     * machinery zeroes that count, though, before it asks to rewind; but
     * it asks only when it had written some of the body, so then all of
     * it that libcurl took may have gone, and the request counts as sent
     * once libcurl had taken it whole. Erring that way can only cost a
     * fallback, never send a request twice.
     */
    curl_easy_getinfo(x->easy, CURLINFO_SIZE_UPLOAD_T, &sent);
    curl_easy_getinfo(x->easy, CURLINFO_CONNECT_TIME_T, &connect_us);
    if (connect_us > 0 || sent > 0 || x->is_rewind_asked) {
        up->is_connected = 1;
    }
    if ((sent > 0 && (size_t) sent >= up->body_len)
        || (x->is_rewind_asked && x->body_taken == up->body_len)) {
        up->is_request_sent = 1;
    }
    if (!up->has_headers) {
        long status = 0;

        /* A reply refused in its head (too large by its Content-Length)
         * still had a status line. */
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200) {
            up->status = status;
            up->has_headers = 1;
        }
    }
}

static int
upstream_curl_is_shortage(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOBUFS
           || err == ENOMEM;
}

static const char *
upstream_curl_detail_of(CURLcode rc)
{
    switch (rc) {
    case CURLE_OK:
        return NULL;
    case CURLE_OPERATION_TIMEDOUT:
        /* libcurl's only deadline is the connect one (see above). */
        return fg_upstream_err_connect_timeout;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_SSL_CONNECT_ERROR:
        return fg_upstream_err_connect;
    case CURLE_FILESIZE_EXCEEDED:
        return fg_upstream_err_too_large;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
        return fg_upstream_err_malformed;
    default:
        /* Resets, an empty reply, a refused rewind (a retry libcurl
         * wanted), the owner's abort (CURLE_WRITE_ERROR). */
        return fg_upstream_err_reset;
    }
}

static void
upstream_curl_check_done(fg_worker_t *w)
{
    CURLMsg       *msg;
    int            left;
    fg_upstream_t *up;
    upstream_curl_xfer_t   *x;
    CURLcode       rc;

    while ((msg = curl_multi_info_read(w->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE) {
            continue;
        }
        rc = msg->data.result;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &up);
        x = up->client;
        curl_multi_remove_handle(w->multi, x->easy);
        x->is_in_multi = 0;
        upstream_curl_take_marks(up);
        if (rc != CURLE_OK) {
            fg_log(FG_LOG_INFO, 0, "upstream \"%s\": libcurl: %s",
                   up->provider->id, x->error[0] != '\0'
                   ? x->error : curl_easy_strerror(rc));
        }
        fg_upstream_end(up, x->is_head_too_large
                            ? fg_upstream_err_malformed
                            : rc == CURLE_COULDNT_CONNECT
                              && upstream_curl_is_shortage(x->socket_errno)
                            ? fg_upstream_err_no_descriptor
                            : upstream_curl_detail_of(rc));
    }
}

/* libcurl opens its sockets here, so that a connection that failed for
 * want of a descriptor is told from one the provider refused. */
static curl_socket_t
upstream_curl_open_cb(void *arg, curlsocktype purpose,
                        struct curl_sockaddr *addr)
{
    fg_upstream_t        *up = arg;
    upstream_curl_xfer_t *x = up->client;
    curl_socket_t         fd;

    (void) purpose;
    fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC,
                addr->protocol);
    if (fd < 0) {
        x->socket_errno = errno;
        fg_log(FG_LOG_ERROR, errno, "upstream \"%s\": socket",
               up->provider->id);
        return CURL_SOCKET_BAD;
    }
    return fd;
}

static size_t
upstream_curl_read_cb(char *buf, size_t size, size_t n, void *arg)
{
    fg_upstream_t *up = arg;
    upstream_curl_xfer_t   *x = up->client;
    size_t         room = size * n, left = up->body_len - x->body_taken;

    if (room > left) {
        room = left;
    }
    memcpy(buf, up->body + x->body_taken, room);
    x->body_taken += room;
    return room;
}

/* libcurl asks to rewind the body only to send it again: refused (see
 * the file comment). */
static int
upstream_curl_seek_cb(void *arg, curl_off_t offset, int origin)
{
    fg_upstream_t        *up = arg;
    upstream_curl_xfer_t *x = up->client;

    (void) offset;
    (void) origin;
    x->is_rewind_asked = 1;
    fg_log(FG_LOG_INFO, 0, "upstream \"%s\": libcurl wanted to send the "
           "request again; refused", up->provider->id);
    return CURL_SEEKFUNC_FAIL;
}

static size_t
upstream_curl_header_cb(char *data, size_t size, size_t n, void *arg)
{
    fg_upstream_t *up = arg;
    upstream_curl_xfer_t   *x = up->client;
    size_t         len = size * n;
    const char    *colon;
    long           status = 0;

    fg_upstream_progress(up);
    /* libcurl's own bound (300 KiB in 7.88) is not the gateway's. */
    x->head_bytes += len;
    if (x->head_bytes > FG_UPSTREAM_HEAD_MAX) {
        x->is_head_too_large = 1;
        return 0;   /* libcurl ends the transfer with CURLE_WRITE_ERROR */
    }
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* A new status line (after 100-continue). */
        fg_upstream_head_begin(up);
        return len;
    }
    if (len <= 2 && (data[0] == '\r' || data[0] == '\n')) {
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200) {
            fg_upstream_head_done(up, status);
        }
        return len;
    }
    colon = memchr(data, ':', len);
    if (colon != NULL) {
        fg_upstream_head_field(up, data, (size_t) (colon - data), colon + 1,
                               len - (size_t) (colon - data) - 1);
    }
    return len;
}

static size_t
upstream_curl_write_cb(char *data, size_t size, size_t n, void *arg)
{
    fg_upstream_t *up = arg;
    size_t         len = size * n;

    fg_upstream_progress(up);
    switch (fg_upstream_deliver(up, data, len)) {
    case FG_UPSTREAM_PAUSE:
        return CURL_WRITEFUNC_PAUSE;
    case FG_UPSTREAM_ABORT:
        return 0;   /* libcurl ends the transfer with CURLE_WRITE_ERROR */
    default:
        return len;
    }
}

static int
upstream_curl_start(fg_upstream_t *up, fg_err_t *err)
{
    fg_worker_t         *w = up->worker;
    const fg_provider_t *p = up->provider;
    upstream_curl_xfer_t         *x;
    char                 url[2048], line[1200];
    char               **h;
    CURLMcode            mrc;

    x = up->client;
    if (x == NULL) {
        x = fg_xcalloc(1, sizeof(*x));
        up->client = x;
        x->easy = upstream_curl_easy_get(w);
    }
    if (x->easy == NULL) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "curl_easy_init failed");
    }
    snprintf(url, sizeof(url), "%s%s", p->base_url,
             fg_upstream_api_path(up));

    x->headers = curl_slist_append(x->headers,
                                   "Content-Type: application/json");
    x->headers = curl_slist_append(x->headers, up->is_stream
                                   ? "Accept: text/event-stream"
                                   : "Accept: application/json");
    x->headers = curl_slist_append(x->headers, "Expect:");
    snprintf(line, sizeof(line), "X-Request-Id: %s", up->target.request_id);
    x->headers = curl_slist_append(x->headers, line);
    if (p->api_key != NULL) {
        snprintf(line, sizeof(line), "Authorization: Bearer %s", p->api_key);
        x->headers = curl_slist_append(x->headers, line);
        memset(line, 0, sizeof(line));
    }
    for (h = p->headers; h != NULL && *h != NULL; h++) {
        x->headers = curl_slist_append(x->headers, *h);
    }

    x->socket_errno = 0;
    curl_easy_setopt(x->easy, CURLOPT_URL, url);
    curl_easy_setopt(x->easy, CURLOPT_OPENSOCKETFUNCTION,
                     upstream_curl_open_cb);
    curl_easy_setopt(x->easy, CURLOPT_OPENSOCKETDATA, up);
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, up);
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(x->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t) up->body_len);
    curl_easy_setopt(x->easy, CURLOPT_READFUNCTION, upstream_curl_read_cb);
    curl_easy_setopt(x->easy, CURLOPT_READDATA, up);
    curl_easy_setopt(x->easy, CURLOPT_SEEKFUNCTION, upstream_curl_seek_cb);
    curl_easy_setopt(x->easy, CURLOPT_SEEKDATA, up);
    curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, upstream_curl_write_cb);
    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, up);
    curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, upstream_curl_header_cb);
    curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, up);
    curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->error);
    curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS,
                     (long) p->connect_timeout_ms);
    curl_easy_setopt(x->easy, CURLOPT_HTTP_VERSION,
                     (long) CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(x->easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(x->easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    if (!up->is_stream) {
        curl_easy_setopt(x->easy, CURLOPT_MAXFILESIZE_LARGE,
                         (curl_off_t) w->conf->upstream_max_body_bytes);
    }

    mrc = curl_multi_add_handle(w->multi, x->easy);
    if (mrc != CURLM_OK) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "curl_multi_add_handle: %s",
                          curl_multi_strerror(mrc));
    }
    x->is_in_multi = 1;
    return FG_OK;
}

static void
upstream_curl_pause(fg_upstream_t *up, int on)
{
    upstream_curl_xfer_t *x = up->client;

    /* Resuming may deliver held data at once, through the write callback. */
    curl_easy_pause(x->easy, on ? CURLPAUSE_RECV : CURLPAUSE_CONT);
}

static void
upstream_curl_cancel(fg_upstream_t *up)
{
    upstream_curl_xfer_t *x = up->client;

    if (x == NULL || !x->is_in_multi) {
        return;
    }
    upstream_curl_take_marks(up);
    /* Out of the multi mid-transfer: libcurl closes the connection. */
    curl_multi_remove_handle(up->worker->multi, x->easy);
    x->is_in_multi = 0;
}

static void
upstream_curl_reinit(fg_upstream_t *up)
{
    upstream_curl_xfer_t *x = up->client;

    if (x == NULL) {
        return;
    }
    upstream_curl_cancel(up);
    /* The handle stays ours; its connection stays in the multi's cache. */
    curl_easy_reset(x->easy);
    curl_slist_free_all(x->headers);
    x->headers = NULL;
    x->body_taken = 0;
    x->is_rewind_asked = 0;
    x->head_bytes = 0;
    x->is_head_too_large = 0;
    x->error[0] = '\0';
}

static void
upstream_curl_free(fg_upstream_t *up)
{
    upstream_curl_xfer_t *x = up->client;

    if (x == NULL) {
        return;
    }
    if (x->is_in_multi) {
        curl_multi_remove_handle(up->worker->multi, x->easy);
    }
    if (x->easy != NULL) {
        upstream_curl_easy_put(up->worker, x->easy);
    }
    curl_slist_free_all(x->headers);
    free(x);
    up->client = NULL;
}
