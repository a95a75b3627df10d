/*
 * upstream.c: the one upstream interface, and what its two clients share.
 *
 * An attempt is chosen a client once, from its target (upstream.h), and
 * from then on the shared code runs it through that client's table of
 * operations: nothing here knows how bytes move. What it does know:
 *
 *   1) the deadlines. First byte (until any byte of the reply), idle
 *      (between reads of a stream, off while the owner holds it paused:
 *      a slow client is not a slow provider) and total (from the start)
 *      are our timers, the same for both clients; only the connect
 *      deadline is the client's, since only it knows when a connection
 *      is made;
 *   2) the reply's status and the head fields the owner needs, parsed
 *      once (Retry-After into milliseconds, both of its forms);
 *   3) the progress marks (connected, request written, first byte, head)
 *      and the one rule that turns them and a failure into the attempt's
 *      outcome (upstream_outcome_of), so both clients answer "was the
 *      request fully written" the same way: that answer is what decides,
 *      later, whether another provider may be tried without sending the
 *      request twice.
 *
 * Every attempt ends exactly once: with done (fg_upstream_end, called by
 * the client or by a deadline here) or silently by fg_upstream_cancel.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "common/base/alloc.h"
#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/wire/retry_after.h"
#include "worker/upstream.h"

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
const char fg_upstream_err_failed[] =
    "the provider reported that the response failed";
const char fg_upstream_err_no_descriptor[] =
    "the gateway has no descriptor left for a connection to the provider";

int
fg_upstream_err_is_timeout(const char *detail)
{
    return detail == fg_upstream_err_connect_timeout
           || detail == fg_upstream_err_first_byte_timeout
           || detail == fg_upstream_err_idle_timeout
           || detail == fg_upstream_err_total_timeout;
}

static void upstream_deadline_cb(evutil_socket_t fd, short what, void *arg);
static void upstream_arm(struct event *ev, int64_t ms);
static int upstream_begin(fg_upstream_t *up,
                          const fg_upstream_target_t *target, char *body,
                          size_t len, fg_err_t *err);
static void upstream_stop_timers(fg_upstream_t *up);
static const fg_upstream_ops_t *upstream_client_for(
    fg_worker_t *w, const fg_upstream_target_t *target);
static fg_attempt_outcome_t upstream_outcome_of(const fg_upstream_t *up,
                                                const char *detail);

int
fg_upstream_init(fg_worker_t *w, fg_err_t *err)
{
    return fg_upstream_curl_init(w, err);
}

void
fg_upstream_cleanup(fg_worker_t *w)
{
    fg_upstream_h1_cleanup(w);
    fg_upstream_curl_cleanup(w);
}

fg_upstream_t *
fg_upstream_start(fg_worker_t *w, const fg_upstream_target_t *target,
                  char *body, size_t len, int is_stream,
                  const fg_upstream_handler_t *handler, void *owner,
                  fg_err_t *err)
{
    fg_upstream_t *up;

    up = fg_xcalloc(1, sizeof(*up));
    up->worker = w;
    up->handler = handler;
    up->owner = owner;
    up->is_stream = is_stream;
    up->first_byte_ev = evtimer_new(w->base, upstream_deadline_cb, up);
    up->idle_ev = evtimer_new(w->base, upstream_deadline_cb, up);
    up->total_ev = evtimer_new(w->base, upstream_deadline_cb, up);
    if (upstream_begin(up, target, body, len, err) != FG_OK) {
        fg_upstream_free(up);
        return NULL;
    }
    return up;
}

int
fg_upstream_reinit(fg_upstream_t *up, const fg_upstream_target_t *target,
                   char *body, size_t len, fg_err_t *err)
{
    fg_upstream_cancel(up);
    if (up->ops != NULL) {
        if (up->ops == upstream_client_for(up->worker, target)) {
            up->ops->reinit(up);
        } else {
            up->ops->free(up);
            up->ops = NULL;
        }
    }
    return upstream_begin(up, target, body, len, err);
}

/* The one choice of a client an attempt gets. */
static const fg_upstream_ops_t *
upstream_client_for(fg_worker_t *w, const fg_upstream_target_t *target)
{
    return fg_upstream_h1_serves(w, target->provider) ? &fg_upstream_h1_ops
                                                      : &fg_upstream_curl_ops;
}

/* Forgets the last attempt of @up and starts one at @target. */
static int
upstream_begin(fg_upstream_t *up, const fg_upstream_target_t *target,
               char *body, size_t len, fg_err_t *err)
{
    const fg_provider_t *p = target->provider;

    free(up->body);
    up->body = body;
    up->body_len = len;
    up->target = *target;
    up->provider = p;
    up->status = 0;
    up->content_type[0] = '\0';
    up->retry_after_ms = -1;
    up->is_connected = 0;
    up->is_request_sent = 0;
    up->has_headers = 0;
    up->is_paused = 0;
    up->is_running = 0;
    up->first_byte_us = 0;
    memset(&up->result, 0, sizeof(up->result));
    up->result.retry_after_ms = -1;
    up->started_us = fg_mono_us();

    up->ops = upstream_client_for(up->worker, target);
    upstream_arm(up->first_byte_ev, p->first_byte_timeout_ms);
    upstream_arm(up->total_ev, p->total_timeout_ms);
    up->is_running = 1;
    if (up->ops->start(up, err) != FG_OK) {
        up->is_running = 0;
        upstream_stop_timers(up);
        up->ops->free(up);
        up->ops = NULL;
        return FG_ERR;
    }
    return FG_OK;
}

const char *
fg_upstream_client_name(const fg_upstream_t *up)
{
    return up->ops != NULL ? up->ops->name : "none";
}

static void
upstream_arm(struct event *ev, int64_t ms)
{
    struct timeval tv;

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    evtimer_add(ev, &tv);
}

static void
upstream_stop_timers(fg_upstream_t *up)
{
    evtimer_del(up->first_byte_ev);
    evtimer_del(up->idle_ev);
    evtimer_del(up->total_ev);
}

/* One of our deadlines passed: the client stops, the owner is told. */
static void
upstream_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    fg_upstream_t *up = arg;
    const char    *detail;

    (void) fd;
    (void) what;
    if (!up->is_running) {
        return;
    }
    if (event_pending(up->total_ev, EV_TIMEOUT, NULL)) {
        detail = up->first_byte_us == 0 ? fg_upstream_err_first_byte_timeout
                                        : fg_upstream_err_idle_timeout;
    } else {
        detail = fg_upstream_err_total_timeout;
    }
    up->ops->cancel(up);
    fg_upstream_end(up, detail);
}

void
fg_upstream_pause(fg_upstream_t *up, int on)
{
    if (up == NULL || !up->is_running || up->is_paused == on) {
        return;
    }
    up->is_paused = on;
    if (on) {
        evtimer_del(up->idle_ev);
    } else if (up->first_byte_us != 0 && up->is_stream) {
        upstream_arm(up->idle_ev, up->provider->idle_timeout_ms);
    }
    up->ops->pause(up, on);
}

void
fg_upstream_cancel(fg_upstream_t *up)
{
    if (up == NULL || !up->is_running) {
        return;
    }
    up->ops->cancel(up);
    upstream_stop_timers(up);
    up->is_running = 0;
    up->result.outcome = FG_ATTEMPT_CANCELLED;
    up->result.is_request_sent = up->is_request_sent;
    up->result.status = up->has_headers ? (int) up->status : 0;
    up->result.retry_after_ms = up->retry_after_ms;
    up->result.latency_us = fg_mono_us() - up->started_us;
    up->result.first_byte_us = up->first_byte_us != 0
                               ? up->first_byte_us - up->started_us : 0;
}

void
fg_upstream_free(fg_upstream_t *up)
{
    if (up == NULL) {
        return;
    }
    fg_upstream_cancel(up);
    if (up->ops != NULL) {
        up->ops->free(up);
    }
    if (up->first_byte_ev != NULL) {
        event_free(up->first_byte_ev);
    }
    if (up->idle_ev != NULL) {
        event_free(up->idle_ev);
    }
    if (up->total_ev != NULL) {
        event_free(up->total_ev);
    }
    free(up->body);
    free(up);
}

/* ---- for the clients ------------------------------------------------ */

void
fg_upstream_progress(fg_upstream_t *up)
{
    if (up->first_byte_us == 0) {
        up->first_byte_us = fg_mono_us();
        up->is_connected = 1;
        evtimer_del(up->first_byte_ev);
    }
    if (up->is_stream && !up->is_paused) {
        upstream_arm(up->idle_ev, up->provider->idle_timeout_ms);
    }
}

void
fg_upstream_head_begin(fg_upstream_t *up)
{
    up->content_type[0] = '\0';
    up->retry_after_ms = -1;
}

void
fg_upstream_head_field(fg_upstream_t *up, const char *name, size_t name_len,
                       const char *value, size_t value_len)
{
    while (value_len > 0 && (*value == ' ' || *value == '\t')) {
        value++;
        value_len--;
    }
    while (value_len > 0 && (value[value_len - 1] == '\r'
                             || value[value_len - 1] == '\n'
                             || value[value_len - 1] == ' ')) {
        value_len--;
    }
    if (name_len == 12 && strncasecmp(name, "content-type", 12) == 0) {
        if (value_len > sizeof(up->content_type) - 1) {
            value_len = sizeof(up->content_type) - 1;
        }
        memcpy(up->content_type, value, value_len);
        up->content_type[value_len] = '\0';
    } else if (name_len == 11 && strncasecmp(name, "retry-after", 11) == 0) {
        up->retry_after_ms = fg_retry_after_ms(value, value_len,
                                               (int64_t) time(NULL));
    }
}

void
fg_upstream_head_done(fg_upstream_t *up, long status)
{
    up->status = status;
    up->has_headers = 1;
    up->handler->headers(up->owner);
}

int
fg_upstream_deliver(fg_upstream_t *up, const char *data, size_t len)
{
    int rc = up->handler->data(up->owner, data, len);

    if (rc == FG_UPSTREAM_PAUSE) {
        /* The client is slow, not the provider: no idle deadline now. */
        up->is_paused = 1;
        evtimer_del(up->idle_ev);
    }
    return rc;
}

/*
 * The outcome of an attempt that ended with @detail (NULL: a whole
 * reply). Failures are judged by how far the attempt got, never by the
 * failure alone: a reset before the first byte of a request that was
 * written whole is "sent, no reply", and may have been processed.
 */
static fg_attempt_outcome_t
upstream_outcome_of(const fg_upstream_t *up, const char *detail)
{
    if (detail == NULL) {
        return FG_ATTEMPT_STATUS;
    }
    if (up->first_byte_us != 0) {
        return FG_ATTEMPT_BROKE_AFTER_BYTES;
    }
    if (up->is_request_sent) {
        return detail == fg_upstream_err_first_byte_timeout
               || detail == fg_upstream_err_total_timeout
               ? FG_ATTEMPT_FIRST_BYTE_TIMEOUT : FG_ATTEMPT_SENT_NO_REPLY;
    }
    if (!up->is_connected || detail == fg_upstream_err_connect
        || detail == fg_upstream_err_connect_timeout
        || detail == fg_upstream_err_no_descriptor) {
        return FG_ATTEMPT_CONNECT_FAILED;
    }
    return FG_ATTEMPT_NOT_SENT;
}

void
fg_upstream_end(fg_upstream_t *up, const char *detail)
{
    fg_attempt_result_t *r = &up->result;

    if (!up->is_running) {
        return;
    }
    up->is_running = 0;
    upstream_stop_timers(up);
    r->outcome = upstream_outcome_of(up, detail);
    r->is_request_sent = up->is_request_sent;
    r->status = up->has_headers ? (int) up->status : 0;
    r->retry_after_ms = up->has_headers ? up->retry_after_ms : -1;
    r->latency_us = fg_mono_us() - up->started_us;
    r->first_byte_us = up->first_byte_us != 0
                       ? up->first_byte_us - up->started_us : 0;
    if (detail != NULL) {
        fg_log(FG_LOG_INFO, 0, "upstream \"%s\" (%s): %s, %s",
               up->provider->id, up->ops->name, detail,
               fg_attempt_outcome_name(r->outcome));
    }
    up->handler->done(up->owner, r, detail);
}

const char *
fg_upstream_api_path(const fg_upstream_t *up)
{
    return up->target.api_path != NULL ? up->target.api_path
                                       : "/chat/completions";
}
