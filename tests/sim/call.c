/*
 * call.c: chat replies that take time or fail on purpose.
 *
 * A call holds one request and one timer that steps through it. A stream
 * sends its headers and role chunk at once, the first token after the TTFT,
 * each further token one token delay later, then at once the finish chunk,
 * the usage chunk if asked for and [DONE]. A non-stream reply is sent whole
 * when the same stream would have ended: after TTFT + (tokens - 1) x token
 * delay. The fault modes change the ending:
 *
 *   reset      a stream sends its head and two tokens, a non-stream reply
 *              nothing; once that has left our buffers the socket is closed
 *              with SO_LINGER 0, so the client sees the connection end (FIN
 *              or RST) without the terminating chunk or any reply
 *   malformed  a stream sends two tokens, then "data: {not json" and ends
 *              the chunked body cleanly without [DONE]; a non-stream reply
 *              is a 200 application/json whose body is not JSON
 *   stall      nothing is ever sent; the call ends when the client leaves
 *              (or when evhttp's 120 s timeout closes the connection)
 *   slow       a normal reply at 200 ms per token (set by fg-sim.c)
 *   close      nothing is sent; after the TTFT the connection is closed
 *              (FIN): a request sent that got no reply
 *   empty-stream  a stream sends its head but no event, then after the
 *              TTFT the connection is closed (FIN) without the terminating
 *              chunk; a non-stream request gets the empty fault (fg-sim.c)
 *   stream-error  a stream sends its role event and one token, then the
 *              connection is closed (FIN) without the terminating chunk or
 *              [DONE]; a non-stream reply sends the head, with the
 *              Content-Length of the whole body, and the first half of it,
 *              then closes the connection
 *
 * Invariants. 1) Only call_finish() ends a call, exactly once, counting it
 * completed, cancelled or aborted. 2) A call owns its request until it
 * ends; afterwards the request belongs to libevent (the final send, or the
 * connection being freed) and the call never touches it again. 3) The
 * client leaving is always noticed: evhttp stops reading a connection once
 * it holds a whole request, so call_watch_close() reads on with no read
 * callback, as evhttp itself does while writing a reply. EOF or an error
 * then makes evhttp detach the unfinished request from the connection and
 * free the connection; its close callback, call_closed(), ends the call and
 * frees the request, so no timer fires on a freed request.
 *
 * Not done: HTTP pipelining (bytes a client sends during a call wait until
 * the reply ends), retries, partial writes of a token.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "common/base/alloc.h"
#include "common/base/log.h"
#include "tests/sim/plan.h"
#include "tests/sim/sim.h"

/* Tokens a stream sends before a reset or malformed fault ends it. */
#define CALL_FAULT_TOKENS   2
/* ... before a stream-error fault ends it: past the first event. */
#define CALL_ERROR_TOKENS   1
/* How often a close checks that what was sent has left our buffers. */
#define CALL_FLUSH_POLL_MS  1

typedef enum {
    CALL_COMPLETED,
    CALL_CANCELLED,
    CALL_ABORTED
} call_outcome_t;

struct fg_sim_call_s {
    fg_sim_t               *sim;
    fg_sim_call_t          *prev;
    fg_sim_call_t          *next;
    struct evhttp_request  *req;            /* owned until the call ends */
    struct event           *timer;
    fg_sim_fault_t          fault;
    unsigned                ttft_ms;
    unsigned                token_delay_ms;
    size_t                  next_piece;     /* streams: next token to send */
    size_t                  last_piece;     /* streams: tokens before end */
    int                     is_closing;     /* waiting for the flush */
    fg_sim_plan_t           plan;
};

static void call_watch_close(fg_sim_call_t *call);
static void call_closed(struct evhttp_connection *evcon, void *arg);
static void call_arm(fg_sim_call_t *call, uint64_t ms);
static void call_step(evutil_socket_t fd, short what, void *arg);
static void call_step_reply(fg_sim_call_t *call);
static void call_step_stream(fg_sim_call_t *call);
static void call_step_cut(fg_sim_call_t *call, struct evbuffer *body);
static void call_close(fg_sim_call_t *call);
static void call_finish(fg_sim_call_t *call, call_outcome_t outcome);

void
fg_sim_call_start(fg_sim_t *sim, struct evhttp_request *req,
    fg_sim_plan_t *plan, fg_sim_fault_t fault, unsigned ttft_ms,
    unsigned token_delay_ms)
{
    fg_sim_call_t *call = fg_xcalloc(1, sizeof(*call));
    struct evkeyvalq *out_headers = evhttp_request_get_output_headers(req);
    struct evbuffer *head;
    uint64_t tokens;

    call->sim = sim;
    call->req = req;
    call->fault = fault;
    call->ttft_ms = ttft_ms;
    call->token_delay_ms = token_delay_ms;
    call->plan = *plan;
    memset(plan, 0, sizeof(*plan));
    call->timer = evtimer_new(sim->base, call_step, call);
    if (call->timer == NULL) {
        fprintf(stderr, "fg-sim: out of memory in evtimer_new()\n");
        abort();
    }
    call->next = sim->calls;
    if (sim->calls != NULL) {
        sim->calls->prev = call;
    }
    sim->calls = call;
    sim->in_flight++;

    call_watch_close(call);
    if (fault == FG_SIM_FAULT_STALL) {
        return;
    }
    if (fault == FG_SIM_FAULT_CLOSE) {
        call->is_closing = 1;
        call_arm(call, ttft_ms);
        return;
    }

    if (!call->plan.is_stream) {
        tokens = fg_sim_plan_n_tokens(&call->plan);
        call_arm(call, ttft_ms + (tokens > 1 ? tokens - 1 : 0)
                                 * token_delay_ms);
        return;
    }

    call->last_piece = fg_sim_plan_n_tokens(&call->plan);
    if ((fault == FG_SIM_FAULT_RESET || fault == FG_SIM_FAULT_MALFORMED)
        && call->last_piece > CALL_FAULT_TOKENS)
    {
        call->last_piece = CALL_FAULT_TOKENS;
    }
    if (fault == FG_SIM_FAULT_STREAM_ERROR
        && call->last_piece > CALL_ERROR_TOKENS)
    {
        call->last_piece = CALL_ERROR_TOKENS;
    }
    evhttp_add_header(out_headers, "Content-Type", "text/event-stream");
    evhttp_add_header(out_headers, "Cache-Control", "no-cache");
    evhttp_send_reply_start(req, 200, "OK");
    if (fault == FG_SIM_FAULT_EMPTY_STREAM) {
        call->last_piece = 0;
    } else {
        head = fg_sim_evbuffer_new();
        fg_sim_plan_render_head(&call->plan, head);
        evhttp_send_reply_chunk(req, head);
        evbuffer_free(head);
    }
    call_arm(call, ttft_ms);
}

void
fg_sim_call_drop_all(fg_sim_t *sim)
{
    while (sim->calls != NULL) {
        call_finish(sim->calls, CALL_ABORTED);
    }
}

/*
 * evhttp stops reading a connection once it has a whole request, so until
 * the reply starts it would not notice the client leaving. Do what evhttp
 * itself does while it writes a reply: read with no read callback (bytes
 * are kept, EOF and errors reach evhttp's event callback, which detaches
 * the request and frees the connection, calling call_closed()).
 */
static void
call_watch_close(fg_sim_call_t *call)
{
    struct evhttp_connection *evcon;
    struct bufferevent *bev;
    bufferevent_data_cb write_cb;
    bufferevent_event_cb event_cb;
    void *cb_arg;

    evcon = evhttp_request_get_connection(call->req);
    evhttp_connection_set_closecb(evcon, call_closed, call);
    bev = evhttp_connection_get_bufferevent(evcon);
    bufferevent_getcb(bev, NULL, &write_cb, &event_cb, &cb_arg);
    bufferevent_setcb(bev, NULL, write_cb, event_cb, cb_arg);
    bufferevent_enable(bev, EV_READ);
}

/*
 * The client went away before the call ended. evhttp has already taken the
 * unfinished request off the connection (it is ours to free) and is
 * freeing the connection.
 */
static void
call_closed(struct evhttp_connection *evcon, void *arg)
{
    fg_sim_call_t *call = arg;
    struct evhttp_request *req = call->req;

    (void) evcon;
    call_finish(call, CALL_CANCELLED);
    if (evhttp_request_get_connection(req) == NULL) {
        evhttp_request_free(req);
    }
}

static void
call_arm(fg_sim_call_t *call, uint64_t ms)
{
    struct timeval tv;

    tv.tv_sec = (time_t) (ms / 1000);
    tv.tv_usec = (suseconds_t) (ms % 1000) * 1000;
    evtimer_add(call->timer, &tv);
}

static void
call_step(evutil_socket_t fd, short what, void *arg)
{
    fg_sim_call_t *call = arg;

    (void) fd;
    (void) what;
    if (call->is_closing) {
        call_close(call);
    } else if (call->plan.is_stream) {
        call_step_stream(call);
    } else {
        call_step_reply(call);
    }
}

/* The delay of a non-stream reply is over: answer as the fault says. */
static void
call_step_reply(fg_sim_call_t *call)
{
    static const char not_json[] = "{\"id\": \"chatcmpl-sim\", this is not "
                                    "JSON";
    struct evhttp_request *req = call->req;
    struct evbuffer *body;

    if (call->fault == FG_SIM_FAULT_RESET) {
        call_close(call);
        return;
    }
    body = fg_sim_evbuffer_new();
    if (call->fault == FG_SIM_FAULT_STREAM_ERROR) {
        call_step_cut(call, body);
        return;
    }
    if (call->fault == FG_SIM_FAULT_MALFORMED) {
        evbuffer_add(body, not_json, sizeof(not_json) - 1);
    } else {
        fg_sim_plan_render_reply(&call->plan, body);
        call->next_piece = fg_sim_plan_n_tokens(&call->plan);
    }
    call_finish(call, CALL_COMPLETED);
    fg_sim_reply(req, 200, "application/json", body);
    evbuffer_free(body);
}

/* Sends the next token; after the last, ends the stream as the fault says. */
static void
call_step_stream(fg_sim_call_t *call)
{
    static const char not_json[] = "data: {not json\n\n";
    struct evhttp_request *req = call->req;
    struct evbuffer *out = fg_sim_evbuffer_new();

    if (call->next_piece < call->last_piece) {
        fg_sim_plan_render_piece(&call->plan, call->next_piece, out);
        call->next_piece++;
    }
    if (call->next_piece < call->last_piece) {
        evhttp_send_reply_chunk(req, out);
        evbuffer_free(out);
        call_arm(call, call->token_delay_ms);
        return;
    }

    switch (call->fault) {
    case FG_SIM_FAULT_RESET:
    case FG_SIM_FAULT_EMPTY_STREAM:
    case FG_SIM_FAULT_STREAM_ERROR:
        if (evbuffer_get_length(out) > 0) {
            evhttp_send_reply_chunk(req, out);
        }
        evbuffer_free(out);
        call->is_closing = 1;
        call_close(call);
        return;
    case FG_SIM_FAULT_MALFORMED:
        evbuffer_add(out, not_json, sizeof(not_json) - 1);
        break;
    default:
        fg_sim_plan_render_tail(&call->plan, out);
    }
    call_finish(call, CALL_COMPLETED);
    evhttp_send_reply_chunk(req, out);
    evhttp_send_reply_end(req);
    evbuffer_free(out);
}

/*
 * stream-error on a non-stream reply: the head promises the whole @body
 * (taken), half of it goes out, then the connection closes.
 */
static void
call_step_cut(fg_sim_call_t *call, struct evbuffer *body)
{
    struct evhttp_request *req = call->req;
    struct evbuffer *half = fg_sim_evbuffer_new();
    char len[32];

    fg_sim_plan_render_reply(&call->plan, body);
    snprintf(len, sizeof(len), "%zu", evbuffer_get_length(body));
    evhttp_add_header(evhttp_request_get_output_headers(req),
                      "Content-Type", "application/json");
    evhttp_add_header(evhttp_request_get_output_headers(req),
                      "Content-Length", len);
    evbuffer_remove_buffer(body, half, evbuffer_get_length(body) / 2);
    evbuffer_free(body);
    evhttp_send_reply_start(req, 200, "OK");
    evhttp_send_reply_chunk(req, half);
    evbuffer_free(half);
    call->is_closing = 1;
    call_close(call);
}

/*
 * Ends the connection mid-reply: once what was sent has left our buffers
 * (so the client sees it first), close the socket; for the reset fault
 * with SO_LINGER 0, which sends a TCP RST instead of an orderly FIN.
 * Freeing the connection also frees the request.
 */
static void
call_close(fg_sim_call_t *call)
{
    struct evhttp_connection *evcon;
    struct bufferevent *bev;
    struct linger lg;
    evutil_socket_t fd;

    evcon = evhttp_request_get_connection(call->req);
    bev = evhttp_connection_get_bufferevent(evcon);
    if (evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
        call->is_closing = 1;
        call_arm(call, CALL_FLUSH_POLL_MS);
        return;
    }
    fd = bufferevent_getfd(bev);
    lg.l_onoff = 1;
    lg.l_linger = 0;
    if (fd >= 0 && call->fault == FG_SIM_FAULT_RESET) {
        (void) setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    call_finish(call, CALL_ABORTED);
    evhttp_connection_free(evcon);
}

/*
 * The one way a call ends: stop watching the connection, stop the timer,
 * count the outcome, free what the call owns. The request itself is not
 * touched after this except by the caller, which passes it on to libevent
 * (final send, connection free) or frees it (call_closed()).
 */
static void
call_finish(fg_sim_call_t *call, call_outcome_t outcome)
{
    fg_sim_t *sim = call->sim;
    struct evhttp_connection *evcon;
    static const char *const outcome_names[] = {
        "completed", "cancelled", "aborted"
    };

    evcon = evhttp_request_get_connection(call->req);
    if (evcon != NULL) {
        evhttp_connection_set_closecb(evcon, NULL, NULL);
    }
    event_free(call->timer);

    if (call->prev != NULL) {
        call->prev->next = call->next;
    } else {
        sim->calls = call->next;
    }
    if (call->next != NULL) {
        call->next->prev = call->prev;
    }
    sim->in_flight--;
    switch (outcome) {
    case CALL_COMPLETED:
        sim->completed++;
        break;
    case CALL_CANCELLED:
        sim->cancelled++;
        break;
    case CALL_ABORTED:
        sim->aborted++;
        break;
    }
    fg_log(FG_LOG_INFO, 0, "%s%llu %s, model \"%s\", fault "
           "\"%s\", %zu of %zu tokens sent", call->plan.id_prefix,
           (unsigned long long) call->plan.seq, outcome_names[outcome],
           call->plan.model, fg_sim_fault_name(call->fault),
           call->next_piece, fg_sim_plan_n_tokens(&call->plan));

    fg_sim_plan_cleanup(&call->plan);
    free(call);
}
