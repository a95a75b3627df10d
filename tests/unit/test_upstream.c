/*
 * test_upstream.c: the upstream interface (worker/upstream.h) driven
 * directly, through both clients, against small HTTP/1.1 servers on
 * loopback in the same event loop: one attempt ends with one result and
 * one done call; fg_upstream_reinit() starts an ended attempt again at
 * another target with a new body, choosing the client anew; a cancelled
 * attempt says so and calls nothing. Every loop run is bounded by a
 * timer.
 */

#include "worker/upstream.h"

#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>

#include "common/base/conf.h"
#include "tests/unit/fg_test.h"

#define TEST_REPLY "{\"id\":\"chatcmpl-t\",\"object\":\"chat.completion\"}"
#define TEST_MAX_CONNS 8

typedef enum {
    SERVER_REPLY = 0,     /* a whole 200 reply, kept alive */
    SERVER_RESET,         /* the request read, then a reset: no reply */
    SERVER_SILENT         /* the request read, nothing ever sent */
} server_mode_t;

typedef struct {
    struct evconnlistener *listener;
    int                    port;
    server_mode_t          mode;
    int                    requests;
    char                   body[1024];       /* the last request's */
    char                   request_id[128];  /* its X-Request-Id */
    struct bufferevent    *conns[TEST_MAX_CONNS];
    int                    conn_count;
} server_t;

typedef struct {
    struct event_base   *base;
    int                  headers;
    int                  done;
    fg_attempt_result_t  result;
    const char          *detail;
    char                 data[1024];
    size_t               len;
    fg_upstream_t       *up;          /* for a failover from done */
    fg_upstream_target_t failover;    /* reinit there once, if set */
    int                  has_failover;
    fg_attempt_outcome_t first_outcome;
} owner_t;

/* ---- the servers ---------------------------------------------------- */

static void
server_read_cb(struct bufferevent *bev, void *arg)
{
    server_t        *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer_ptr end;
    size_t           head_len, len;
    char            *head, *cl, *id;
    long             body_len = 0;
    char             reply[512];
    int              n;
    struct linger    lg = { 1, 0 };

    end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    if (end.pos < 0) {
        return;
    }
    head_len = (size_t) end.pos + 4;
    head = (char *) evbuffer_pullup(in, (ssize_t) head_len);
    cl = strcasestr(head, "\r\ncontent-length:");
    if (cl != NULL && cl < head + head_len) {
        body_len = strtol(cl + 17, NULL, 10);
    }
    if (evbuffer_get_length(in) < head_len + (size_t) body_len) {
        return;
    }
    id = strcasestr(head, "\r\nx-request-id: ");
    s->request_id[0] = '\0';
    if (id != NULL && id < head + head_len) {
        len = strcspn(id + 16, "\r");
        if (len < sizeof(s->request_id)) {
            memcpy(s->request_id, id + 16, len);
            s->request_id[len] = '\0';
        }
    }
    evbuffer_drain(in, head_len);
    len = (size_t) body_len < sizeof(s->body) - 1 ? (size_t) body_len
                                                 : sizeof(s->body) - 1;
    evbuffer_remove(in, s->body, len);
    s->body[len] = '\0';
    evbuffer_drain(in, (size_t) body_len - len);
    s->requests++;
    switch (s->mode) {
    case SERVER_REPLY:
        n = snprintf(reply, sizeof(reply), "HTTP/1.1 200 OK\r\n"
                     "Content-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s", strlen(TEST_REPLY),
                     TEST_REPLY);
        bufferevent_write(bev, reply, (size_t) n);
        break;
    case SERVER_RESET:
        setsockopt(bufferevent_getfd(bev), SOL_SOCKET, SO_LINGER, &lg,
                   sizeof(lg));
        shutdown(bufferevent_getfd(bev), SHUT_RDWR);
        bufferevent_disable(bev, EV_READ | EV_WRITE);
        break;
    case SERVER_SILENT:
        break;
    }
}

static void
server_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
                 struct sockaddr *addr, int socklen, void *arg)
{
    server_t           *s = arg;
    struct bufferevent *bev;

    (void) addr;
    (void) socklen;
    if (s->conn_count == TEST_MAX_CONNS) {
        close(fd);
        return;
    }
    bev = bufferevent_socket_new(evconnlistener_get_base(l), fd,
                                 BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(bev, server_read_cb, NULL, NULL, s);
    bufferevent_enable(bev, EV_READ);
    s->conns[s->conn_count++] = bev;
}

static void
server_start(server_t *s, struct event_base *base, server_mode_t mode)
{
    struct sockaddr_in sin;
    socklen_t          len = sizeof(sin);

    memset(s, 0, sizeof(*s));
    s->mode = mode;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->listener = evconnlistener_new_bind(base, server_accept_cb, s,
                                          LEV_OPT_CLOSE_ON_FREE, 16,
                                          (struct sockaddr *) &sin,
                                          sizeof(sin));
    getsockname(evconnlistener_get_fd(s->listener), (struct sockaddr *) &sin,
                &len);
    s->port = ntohs(sin.sin_port);
}

static void
server_stop(server_t *s)
{
    int i;

    for (i = 0; i < s->conn_count; i++) {
        bufferevent_free(s->conns[i]);
    }
    evconnlistener_free(s->listener);
}

/* ---- the owner ------------------------------------------------------ */

static void
owner_headers(void *arg)
{
    ((owner_t *) arg)->headers++;
}

static int
owner_data(void *arg, const char *data, size_t len)
{
    owner_t *o = arg;

    if (o->len + len < sizeof(o->data)) {
        memcpy(o->data + o->len, data, len);
        o->len += len;
        o->data[o->len] = '\0';
    }
    return FG_UPSTREAM_CONTINUE;
}

static void
owner_done(void *arg, const fg_attempt_result_t *result, const char *detail)
{
    owner_t *o = arg;

    o->done++;
    o->result = *result;
    o->detail = detail;
    if (o->has_failover && fg_attempt_never_arrived(result)) {
        fg_err_t err;

        /* What a router does: the request never arrived, so the next
         * endpoint may have it, from inside this very call. */
        o->has_failover = 0;
        o->first_outcome = result->outcome;
        if (fg_upstream_reinit(o->up, &o->failover, strdup("{\"n\":3}"), 7,
                               &err) == FG_OK) {
            return;
        }
    }
    event_base_loopbreak(o->base);
}

static const fg_upstream_handler_t owner_handler = {
    owner_headers, owner_data, owner_done
};

/* ---- the set-up ----------------------------------------------------- */

typedef struct {
    fg_conf_t      conf;
    fg_worker_t    worker;
    owner_t        owner;
    fg_provider_t  providers[2];
    char           urls[2][64];
} fixture_t;

static fixture_t fx;

static void
fixture_init(int native_http)
{
    fg_err_t err;
    int      i;

    memset(&fx, 0, sizeof(fx));
    fg_conf_defaults(&fx.conf);
    fx.conf.upstream_native_http = native_http;
    fx.worker.conf = &fx.conf;
    fx.worker.base = event_base_new();
    fx.owner.base = fx.worker.base;
    expect_int_eq(fg_upstream_init(&fx.worker, &err), FG_OK);
    for (i = 0; i < 2; i++) {
        fx.providers[i].id = i == 0 ? "first" : "second";
        fx.providers[i].base_url = fx.urls[i];
        fx.providers[i].connect_timeout_ms = 1000;
        fx.providers[i].first_byte_timeout_ms = 2000;
        fx.providers[i].idle_timeout_ms = 1000;
        fx.providers[i].total_timeout_ms = 4000;
    }
}

static void
fixture_cleanup(void)
{
    fg_upstream_cleanup(&fx.worker);
    event_base_free(fx.worker.base);
}

/* Provider @i at @scheme://127.0.0.1:@port/v1. */
static fg_upstream_target_t
target_at(int i, const char *scheme, int port)
{
    fg_upstream_target_t t;

    snprintf(fx.urls[i], sizeof(fx.urls[i]), "%s://127.0.0.1:%d/v1", scheme,
             port);
    t.provider = &fx.providers[i];
    t.request_id = i == 0 ? "req-first" : "req-second";
    t.api_path = NULL;
    return t;
}

/* Runs the loop until the owner is told, or 8 s pass. */
static void
run_until_done(void)
{
    struct timeval tv = { 8, 0 };

    event_base_loopexit(fx.worker.base, &tv);
    event_base_dispatch(fx.worker.base);
}

/* Runs the loop for @ms whatever happens. */
static void
run_for(int ms)
{
    struct timeval tv = { 0, ms * 1000 };

    event_base_loopexit(fx.worker.base, &tv);
    event_base_dispatch(fx.worker.base);
}

/* ---- the tests ------------------------------------------------------ */

/* An attempt at @a that gets no reply, then reinit at @b with a new body:
 * @b gets that body once, and the owner one more done, with the 200. */
static void
reinit_goes_to_the_new_target_with_the_new_body(int native_http,
                                                const char *client)
{
    server_t             a, b;
    fg_upstream_target_t ta, tb;
    fg_upstream_t       *up;
    fg_err_t             err;

    fixture_init(native_http);
    server_start(&a, fx.worker.base, SERVER_RESET);
    server_start(&b, fx.worker.base, SERVER_REPLY);
    ta = target_at(0, "http", a.port);
    tb = target_at(1, "http", b.port);

    up = fg_upstream_start(&fx.worker, &ta, strdup("{\"model\":\"one\"}"),
                           15, 0, &owner_handler, &fx.owner, &err);
    expect_true(up != NULL);
    expect_str_eq(fg_upstream_client_name(up), client);
    run_until_done();
    expect_int_eq(fx.owner.done, 1);
    expect_str_eq(fg_attempt_outcome_name(fx.owner.result.outcome),
                  "sent_no_reply");
    expect_int_eq(fx.owner.result.is_request_sent, 1);
    expect_int_eq(a.requests, 1);
    expect_str_eq(a.body, "{\"model\":\"one\"}");

    expect_int_eq(fg_upstream_reinit(up, &tb, strdup("{\"model\":\"two\"}"),
                                     15, &err), FG_OK);
    expect_int_eq(up->result.outcome, FG_ATTEMPT_NONE);
    run_until_done();
    expect_int_eq(fx.owner.done, 2);
    expect_int_eq(fx.owner.headers, 1);
    expect_str_eq(fg_attempt_outcome_name(fx.owner.result.outcome),
                  "status");
    expect_int_eq(fx.owner.result.status, 200);
    expect_true(fx.owner.detail == NULL);
    expect_str_eq(fx.owner.data, TEST_REPLY);
    expect_int_eq(b.requests, 1);
    expect_str_eq(b.body, "{\"model\":\"two\"}");
    expect_str_eq(b.request_id, "req-second");
    expect_int_eq(a.requests, 1);   /* the first target never again */

    fg_upstream_free(up);
    server_stop(&a);
    server_stop(&b);
    fixture_cleanup();
}

static void
reinit_goes_to_the_new_target_with_the_new_body_natively(void)
{
    reinit_goes_to_the_new_target_with_the_new_body(1, "http1");
}

static void
reinit_goes_to_the_new_target_with_the_new_body_through_libcurl(void)
{
    reinit_goes_to_the_new_target_with_the_new_body(0, "libcurl");
}

static void
reinit_chooses_the_client_anew_from_the_target(void)
{
    server_t             b;
    fg_upstream_target_t ta, tb;
    fg_upstream_t       *up;
    fg_err_t             err;

    fixture_init(1);
    server_start(&b, fx.worker.base, SERVER_REPLY);
    /* https is libcurl's; nothing listens on port 1, so no TLS is tried. */
    ta = target_at(0, "https", 1);
    tb = target_at(1, "http", b.port);

    up = fg_upstream_start(&fx.worker, &ta, strdup("{}"), 2, 0,
                           &owner_handler, &fx.owner, &err);
    expect_true(up != NULL);
    expect_str_eq(fg_upstream_client_name(up), "libcurl");
    run_until_done();
    expect_int_eq(fx.owner.done, 1);
    expect_str_eq(fg_attempt_outcome_name(fx.owner.result.outcome),
                  "connect_failed");
    expect_int_eq(fx.owner.result.is_request_sent, 0);
    expect_true(fg_attempt_never_arrived(&fx.owner.result));

    expect_int_eq(fg_upstream_reinit(up, &tb, strdup("{\"n\":2}"), 7, &err),
                  FG_OK);
    expect_str_eq(fg_upstream_client_name(up), "http1");
    run_until_done();
    expect_int_eq(fx.owner.done, 2);
    expect_int_eq(fx.owner.result.status, 200);
    expect_str_eq(b.body, "{\"n\":2}");

    fg_upstream_free(up);
    server_stop(&b);
    fixture_cleanup();
}

/* The owner may fail over from inside its done handler. */
static void
reinit_from_the_done_handler_starts_the_next_attempt(int native_http)
{
    server_t             b;
    fg_upstream_target_t ta;
    fg_err_t             err;

    fixture_init(native_http);
    server_start(&b, fx.worker.base, SERVER_REPLY);
    ta = target_at(0, "http", 1);   /* nothing listens on port 1 */
    fx.owner.failover = target_at(1, "http", b.port);
    fx.owner.has_failover = 1;

    fx.owner.up = fg_upstream_start(&fx.worker, &ta, strdup("{}"), 2, 0,
                                    &owner_handler, &fx.owner, &err);
    expect_true(fx.owner.up != NULL);
    run_until_done();
    expect_int_eq(fx.owner.done, 2);
    expect_str_eq(fg_attempt_outcome_name(fx.owner.first_outcome),
                  "connect_failed");
    expect_str_eq(fg_attempt_outcome_name(fx.owner.result.outcome),
                  "status");
    expect_int_eq(fx.owner.result.status, 200);
    expect_int_eq(b.requests, 1);
    expect_str_eq(b.body, "{\"n\":3}");

    fg_upstream_free(fx.owner.up);
    server_stop(&b);
    fixture_cleanup();
}

static void
reinit_from_the_done_handler_starts_the_next_attempt_natively(void)
{
    reinit_from_the_done_handler_starts_the_next_attempt(1);
}

static void
reinit_from_the_done_handler_starts_the_next_attempt_through_libcurl(void)
{
    reinit_from_the_done_handler_starts_the_next_attempt(0);
}

/* A cancelled attempt: its result says so, with what was known, and the
 * owner hears nothing more. */
static void
cancel_ends_an_attempt_as_cancelled_with_no_done_call(int native_http)
{
    server_t             s;
    fg_upstream_target_t t;
    fg_upstream_t       *up;
    fg_err_t             err;

    fixture_init(native_http);
    server_start(&s, fx.worker.base, SERVER_SILENT);
    t = target_at(0, "http", s.port);
    up = fg_upstream_start(&fx.worker, &t, strdup("{}"), 2, 0,
                           &owner_handler, &fx.owner, &err);
    expect_true(up != NULL);
    run_for(300);
    expect_int_eq(s.requests, 1);
    fg_upstream_cancel(up);
    expect_int_eq(up->result.outcome, FG_ATTEMPT_CANCELLED);
    expect_int_eq(up->result.is_request_sent, 1);
    expect_int_eq(up->result.status, 0);
    run_for(100);
    expect_int_eq(fx.owner.done, 0);

    fg_upstream_free(up);
    server_stop(&s);
    fixture_cleanup();
}

static void
cancel_ends_an_attempt_as_cancelled_with_no_done_call_natively(void)
{
    cancel_ends_an_attempt_as_cancelled_with_no_done_call(1);
}

static void
cancel_ends_an_attempt_as_cancelled_with_no_done_call_through_libcurl(void)
{
    cancel_ends_an_attempt_as_cancelled_with_no_done_call(0);
}

FG_TEST_MAIN("upstream",
    FG_TEST_CASE(reinit_goes_to_the_new_target_with_the_new_body_natively),
    FG_TEST_CASE(reinit_goes_to_the_new_target_with_the_new_body_through_libcurl),
    FG_TEST_CASE(reinit_chooses_the_client_anew_from_the_target),
    FG_TEST_CASE(reinit_from_the_done_handler_starts_the_next_attempt_natively),
    FG_TEST_CASE(reinit_from_the_done_handler_starts_the_next_attempt_through_libcurl),
    FG_TEST_CASE(cancel_ends_an_attempt_as_cancelled_with_no_done_call_natively),
    FG_TEST_CASE(cancel_ends_an_attempt_as_cancelled_with_no_done_call_through_libcurl))
