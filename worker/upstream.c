/*
 * upstream.c: libcurl multi on the worker's event_base.
 *
 * The classic socket-action arrangement: libcurl tells us which sockets to
 * watch (upstream_socket_cb) and when to wake it (upstream_timer_cb); we
 * turn those into libevent events whose callbacks call
 * curl_multi_socket_action() and then collect finished transfers. All of
 * it runs in the one event loop, so a worker holds thousands of upstream
 * calls with no thread and no blocking call.
 *
 * Two rules keep re-entrancy safe:
 *   1) nothing called from a libcurl callback removes an easy handle: the
 *      relay may ask for a pause (CURL_WRITEFUNC_PAUSE) but ends a request
 *      only through fg_req_finish_later();
 *   2) fg_pipeline_upstream_done() is called only from
 *      upstream_check_done(), outside every libcurl callback, and after
 *      it the transfer is out of the multi, so fg_upstream_free() may run
 *      at once.
 *
 * Easy handles are recycled through a small free list; curl_easy_reset()
 * keeps the multi's connection cache, which is what makes keep-alive to
 * the upstream work across requests.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event_struct.h>

#include "common/base/alloc.h"
#include "common/base/clock.h"
#include "common/base/log.h"
#include "worker/pipeline.h"
#include "worker/upstream.h"
#include "worker/upstream_h1.h"

const char fg_upstream_err_connect[] = "could not connect to the provider";
const char fg_upstream_err_connect_timeout[] =
    "timed out connecting to the provider";
const char fg_upstream_err_first_byte_timeout[] =
    "the provider sent no reply in time";
const char fg_upstream_err_idle_timeout[] =
    "the provider stalled in the middle of its reply";
const char fg_upstream_err_total_timeout[] =
    "the provider did not finish its reply in time";
const char fg_upstream_err_reset[] =
    "the provider closed the connection in the middle of its reply";
const char fg_upstream_err_too_large[] = "the provider's reply is too large";
const char fg_upstream_err_malformed[] = "the provider sent a malformed reply";

#define UPSTREAM_POOL_MAX 64

typedef struct {
    CURL   *handles[UPSTREAM_POOL_MAX];
    int     count;
} upstream_pool_t;

typedef struct {
    fg_worker_t    *worker;
    curl_socket_t   fd;
    short           events;
    struct event    ev;
} upstream_sock_t;

static int upstream_socket_cb(CURL *easy, curl_socket_t s, int what,
                              void *userp, void *socketp);
static int upstream_timer_cb(CURLM *multi, long timeout_ms, void *userp);
static void upstream_event_cb(evutil_socket_t fd, short what, void *arg);
static void upstream_timeout_cb(evutil_socket_t fd, short what, void *arg);
static void upstream_check_done(fg_worker_t *w);
static size_t upstream_write_cb(char *data, size_t size, size_t n,
                                void *arg);
static size_t upstream_header_cb(char *data, size_t size, size_t n,
                                 void *arg);
static void upstream_got_first_byte(fg_upstream_t *up);
static void upstream_deadline_cb(evutil_socket_t fd, short what, void *arg);
static void upstream_abort(fg_upstream_t *up, const char *error);
static const char *upstream_error_of(fg_upstream_t *up, CURLcode rc);
static CURL *upstream_easy_get(fg_worker_t *w);
static void upstream_easy_put(fg_worker_t *w, CURL *easy);

int
fg_upstream_init(fg_worker_t *w, fg_err_t *err)
{
    w->multi = curl_multi_init();
    if (w->multi == NULL) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "curl_multi_init failed");
    }
    curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, upstream_socket_cb);
    curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, upstream_timer_cb);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, w);
    curl_multi_setopt(w->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    curl_multi_setopt(w->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                      (long) w->conf->upstream_max_connections);
    curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS,
                      (long) w->conf->upstream_max_connections);
    w->curl_timer_ev = evtimer_new(w->base, upstream_timeout_cb, w);
    w->easy_pool = fg_xcalloc(1, sizeof(upstream_pool_t));
    return FG_OK;
}

void
fg_upstream_cleanup(fg_worker_t *w)
{
    fg_upstream_h1_cleanup(w);
    upstream_pool_t *pool = w->easy_pool;
    int              i;

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
upstream_easy_get(fg_worker_t *w)
{
    upstream_pool_t *pool = w->easy_pool;

    if (pool->count > 0) {
        return pool->handles[--pool->count];
    }
    return curl_easy_init();
}

static void
upstream_easy_put(fg_worker_t *w, CURL *easy)
{
    upstream_pool_t *pool = w->easy_pool;

    if (pool != NULL && pool->count < UPSTREAM_POOL_MAX) {
        curl_easy_reset(easy);
        pool->handles[pool->count++] = easy;
    } else {
        curl_easy_cleanup(easy);
    }
}

static int
upstream_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp,
                   void *socketp)
{
    fg_worker_t     *w = userp;
    upstream_sock_t *sock = socketp;
    short            events;

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
    event_assign(&sock->ev, w->base, s, events, upstream_event_cb, sock);
    event_add(&sock->ev, NULL);
    return 0;
}

static int
upstream_timer_cb(CURLM *multi, long timeout_ms, void *userp)
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
upstream_event_cb(evutil_socket_t fd, short what, void *arg)
{
    upstream_sock_t *sock = arg;
    fg_worker_t     *w = sock->worker;
    int              running, flags = 0;

    if (what & EV_READ) {
        flags |= CURL_CSELECT_IN;
    }
    if (what & EV_WRITE) {
        flags |= CURL_CSELECT_OUT;
    }
    /* May free sock through upstream_socket_cb(CURL_POLL_REMOVE). */
    curl_multi_socket_action(w->multi, fd, flags, &running);
    upstream_check_done(w);
}

static void
upstream_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    fg_worker_t *w = arg;
    int          running;

    (void) fd;
    (void) what;
    curl_multi_socket_action(w->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    upstream_check_done(w);
}

static const char *
upstream_error_of(fg_upstream_t *up, CURLcode rc)
{
    switch (rc) {
    case CURLE_OK:
        return NULL;
    case CURLE_OPERATION_TIMEDOUT:
        return up->has_headers ? fg_upstream_err_total_timeout
                               : fg_upstream_err_connect_timeout;
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
        return fg_upstream_err_reset;
    }
}

static void
upstream_check_done(fg_worker_t *w)
{
    CURLMsg       *msg;
    int            left;
    fg_upstream_t *up;

    while ((msg = curl_multi_info_read(w->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE) {
            continue;
        }
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &up);
        curl_multi_remove_handle(w->multi, msg->easy_handle);
        up->is_running = 0;
        if (up->first_byte_ev != NULL) {
            evtimer_del(up->first_byte_ev);
        }
        if (up->idle_ev != NULL) {
            evtimer_del(up->idle_ev);
        }
        if (msg->data.result == CURLE_OPERATION_TIMEDOUT) {
            /* libcurl's own timer is the connect or the total deadline. */
            double connect_s = 0;

            curl_easy_getinfo(up->easy, CURLINFO_CONNECT_TIME, &connect_s);
            fg_pipeline_upstream_done(up->req, connect_s > 0
                                      ? fg_upstream_err_total_timeout
                                      : fg_upstream_err_connect_timeout);
        } else {
            if (msg->data.result != CURLE_OK) {
                fg_log(FG_LOG_INFO, 0, "upstream \"%s\": %s",
                       up->provider->id, up->curl_error[0]
                       ? up->curl_error
                       : curl_easy_strerror(msg->data.result));
            }
            fg_pipeline_upstream_done(up->req,
                                      upstream_error_of(up,
                                                        msg->data.result));
        }
    }
}

void
fg_upstream_progress(fg_upstream_t *up)
{
    upstream_got_first_byte(up);
}

static void
upstream_got_first_byte(fg_upstream_t *up)
{
    struct timeval tv;

    if (up->first_byte_us == 0) {
        up->first_byte_us = fg_mono_us();
        evtimer_del(up->first_byte_ev);
    }
    if (up->is_stream) {
        tv.tv_sec = up->provider->idle_timeout_ms / 1000;
        tv.tv_usec = (up->provider->idle_timeout_ms % 1000) * 1000;
        evtimer_add(up->idle_ev, &tv);
    }
}

static size_t
upstream_header_cb(char *data, size_t size, size_t n, void *arg)
{
    fg_upstream_t *up = arg;
    size_t         len = size * n;

    upstream_got_first_byte(up);
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* A new status line (after 100-continue or a redirect). */
        up->content_type[0] = '\0';
        up->retry_after[0] = '\0';
        return len;
    }
    if (len == 2 && data[0] == '\r') {
        curl_easy_getinfo(up->easy, CURLINFO_RESPONSE_CODE, &up->status);
        if (up->status >= 200) {
            up->has_headers = 1;
            fg_pipeline_upstream_headers(up->req);
        }
        return len;
    }
    if (len > 13 && strncasecmp(data, "content-type:", 13) == 0) {
        size_t i = 13, j = 0;

        while (i < len && data[i] == ' ') {
            i++;
        }
        while (i < len && data[i] != '\r' && data[i] != '\n'
               && j < sizeof(up->content_type) - 1) {
            up->content_type[j++] = data[i++];
        }
        up->content_type[j] = '\0';
    } else if (len > 12 && strncasecmp(data, "retry-after:", 12) == 0) {
        size_t i = 12, j = 0;

        while (i < len && data[i] == ' ') {
            i++;
        }
        while (i < len && data[i] >= '0' && data[i] <= '9'
               && j < sizeof(up->retry_after) - 1) {
            up->retry_after[j++] = data[i++];
        }
        up->retry_after[j] = '\0';
    }
    return len;
}

static size_t
upstream_write_cb(char *data, size_t size, size_t n, void *arg)
{
    fg_upstream_t *up = arg;
    size_t         len = size * n;

    upstream_got_first_byte(up);
    switch (fg_pipeline_upstream_data(up->req, data, len)) {
    case FG_RELAY_PAUSE:
        /* The client is slow, not the provider: no idle deadline now. */
        up->is_paused = 1;
        evtimer_del(up->idle_ev);
        return CURL_WRITEFUNC_PAUSE;
    case FG_RELAY_ABORT:
        return 0;   /* libcurl ends the transfer with CURLE_WRITE_ERROR */
    default:
        return len;
    }
}

static void
upstream_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    fg_upstream_t *up = arg;

    (void) fd;
    (void) what;
    upstream_abort(up, up->first_byte_us == 0
                       ? fg_upstream_err_first_byte_timeout
                       : fg_upstream_err_idle_timeout);
}

/* Ends a running transfer from a timer (never from a libcurl callback). */
static void
upstream_abort(fg_upstream_t *up, const char *error)
{
    fg_worker_t *w = up->req->worker;

    if (up->h1 != NULL) {
        fg_upstream_h1_cancel(up);
    } else if (up->is_running) {
        curl_multi_remove_handle(w->multi, up->easy);
        up->is_running = 0;
    }
    evtimer_del(up->first_byte_ev);
    evtimer_del(up->idle_ev);
    fg_log(FG_LOG_INFO, 0, "upstream \"%s\": %s", up->provider->id, error);
    fg_pipeline_upstream_done(up->req, error);
}

fg_upstream_t *
fg_upstream_start(fg_req_t *req, const fg_provider_t *p, char *body,
                  size_t len, int is_stream, fg_err_t *err)
{
    fg_worker_t   *w = req->worker;
    fg_upstream_t *up;
    char           url[2048], line[1200];
    char         **h;
    struct timeval tv;
    CURLMcode      mrc;

    up = fg_xcalloc(1, sizeof(*up));
    up->req = req;
    up->started_us = fg_mono_us();
    up->provider = p;
    up->body = body;
    up->body_len = len;
    up->is_stream = is_stream;
    up->first_byte_ev = evtimer_new(w->base, upstream_deadline_cb, up);
    up->idle_ev = evtimer_new(w->base, upstream_deadline_cb, up);
    tv.tv_sec = p->first_byte_timeout_ms / 1000;
    tv.tv_usec = (p->first_byte_timeout_ms % 1000) * 1000;
    evtimer_add(up->first_byte_ev, &tv);
    if (fg_upstream_h1_serves(w, p)) {
        if (fg_upstream_h1_start(up, err) != FG_OK) {
            fg_upstream_free(up);
            return NULL;
        }
        return up;
    }
    up->easy = upstream_easy_get(w);
    if (up->easy == NULL) {
        fg_upstream_free(up);
        fg_err_set(err, FG_E_INTERNAL, NULL, "curl_easy_init failed");
        return NULL;
    }
    snprintf(url, sizeof(url), "%s/chat/completions", p->base_url);

    up->headers = curl_slist_append(up->headers,
                                    "Content-Type: application/json");
    up->headers = curl_slist_append(up->headers, is_stream
                                    ? "Accept: text/event-stream"
                                    : "Accept: application/json");
    up->headers = curl_slist_append(up->headers, "Expect:");
    snprintf(line, sizeof(line), "X-Request-Id: %s", req->id);
    up->headers = curl_slist_append(up->headers, line);
    if (p->api_key != NULL) {
        snprintf(line, sizeof(line), "Authorization: Bearer %s", p->api_key);
        up->headers = curl_slist_append(up->headers, line);
        memset(line, 0, sizeof(line));
    }
    for (h = p->headers; h != NULL && *h != NULL; h++) {
        up->headers = curl_slist_append(up->headers, *h);
    }

    curl_easy_setopt(up->easy, CURLOPT_URL, url);
    curl_easy_setopt(up->easy, CURLOPT_PRIVATE, up);
    curl_easy_setopt(up->easy, CURLOPT_HTTPHEADER, up->headers);
    curl_easy_setopt(up->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(up->easy, CURLOPT_POSTFIELDS, up->body);
    curl_easy_setopt(up->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t) up->body_len);
    curl_easy_setopt(up->easy, CURLOPT_WRITEFUNCTION, upstream_write_cb);
    curl_easy_setopt(up->easy, CURLOPT_WRITEDATA, up);
    curl_easy_setopt(up->easy, CURLOPT_HEADERFUNCTION, upstream_header_cb);
    curl_easy_setopt(up->easy, CURLOPT_HEADERDATA, up);
    curl_easy_setopt(up->easy, CURLOPT_ERRORBUFFER, up->curl_error);
    curl_easy_setopt(up->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(up->easy, CURLOPT_CONNECTTIMEOUT_MS,
                     (long) p->connect_timeout_ms);
    curl_easy_setopt(up->easy, CURLOPT_TIMEOUT_MS,
                     (long) p->total_timeout_ms);
    curl_easy_setopt(up->easy, CURLOPT_HTTP_VERSION,
                     (long) CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(up->easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(up->easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(up->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    if (!is_stream) {
        curl_easy_setopt(up->easy, CURLOPT_MAXFILESIZE_LARGE,
                         (curl_off_t) w->conf->upstream_max_body_bytes);
    }

    mrc = curl_multi_add_handle(w->multi, up->easy);
    if (mrc != CURLM_OK) {
        fg_err_set(err, FG_E_INTERNAL, NULL, "curl_multi_add_handle: %s",
                   curl_multi_strerror(mrc));
        fg_upstream_free(up);
        return NULL;
    }
    up->is_running = 1;
    return up;
}

void
fg_upstream_pause(fg_upstream_t *up, int on)
{
    if (up == NULL || !up->is_running || up->is_paused == on) {
        return;
    }
    if (up->h1 != NULL) {
        fg_upstream_h1_pause(up, on);
        return;
    }
    up->is_paused = on;
    if (on) {
        evtimer_del(up->idle_ev);
    } else if (up->first_byte_us != 0) {
        upstream_got_first_byte(up);
    }
    /* Resuming may deliver held data at once, through the write callback. */
    curl_easy_pause(up->easy, on ? CURLPAUSE_RECV : CURLPAUSE_CONT);
}

void
fg_upstream_free(fg_upstream_t *up)
{
    fg_worker_t *w;

    if (up == NULL) {
        return;
    }
    w = up->req->worker;
    fg_upstream_h1_cancel(up);
    if (up->easy != NULL) {
        if (up->is_running) {
            curl_multi_remove_handle(w->multi, up->easy);
        }
        upstream_easy_put(w, up->easy);
    }
    if (up->first_byte_ev != NULL) {
        event_free(up->first_byte_ev);
    }
    if (up->idle_ev != NULL) {
        event_free(up->idle_ev);
    }
    curl_slist_free_all(up->headers);
    free(up->body);
    free(up);
}
