/*
 * test_redis.c: the Redis connection (common/cluster/redis) against a real
 * redis-server. Each test starts its own server(s) on a unix socket in a
 * fresh mkdtemp folder (no TCP port: --port 0), appendonly with
 * appendfsync always unless the test says otherwise, and ends each by PID
 * (SIGCONT, SIGTERM, SIGKILL after a bound, waitpid), whatever happened;
 * a server also dies with the test process (PR_SET_PDEATHSIG), should the
 * test crash. The loop runs until what the test waits for happened or its
 * deadline passed, never on a sleep.
 *
 * redis-server is a dependency (`make deps` installs Debian's): without
 * it every test fails, saying so.
 */

#include "common/cluster/redis.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/event.h>

#include "common/base/clock.h"
#include "tests/unit/fg_test.h"
#include "tests/unit/redis_server.h"

#define SECRET       "Zq7-secret-Pw"
#define READY_MS     3000     /* a connection reaching READY, at most */
#define SLACK_MS     250      /* timer and scheduling slack on a busy box */
#define EARLY_MS     20       /* libevent's coarse clock may fire a little
                               * early by fg_mono_ms()'s precise one */

/* ---- the loop and what the tests watch --------------------------------- */

static void
tick(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    (void) arg;
}

/* Runs @base until done(@ctx) or @timeout_ms passed; returns done(@ctx). */
static int
run_until(struct event_base *base, int (*done)(void *), void *ctx,
          int64_t timeout_ms)
{
    int64_t        deadline = fg_mono_ms() + timeout_ms;
    struct event  *ev = event_new(base, -1, EV_PERSIST, tick, NULL);
    struct timeval tv = { 0, 5000 };

    event_add(ev, &tv);
    while (!done(ctx) && fg_mono_ms() < deadline) {
        event_base_loop(base, EVLOOP_ONCE);
    }
    event_free(ev);
    return done(ctx);
}

static int
never(void *ctx)
{
    (void) ctx;
    return 0;
}

typedef struct {
    int  connecting, ready, down;   /* transitions seen */
    fg_redis_state_t last;
    char reason[512];
} watch_t;

static void
watch_state(fg_redis_t *r, fg_redis_state_t state, const char *reason,
            void *arg)
{
    watch_t *w = arg;

    (void) r;
    w->last = state;
    switch (state) {
    case FG_REDIS_CONNECTING:
        w->connecting++;
        break;
    case FG_REDIS_READY:
        w->ready++;
        break;
    case FG_REDIS_DOWN:
        w->down++;
        snprintf(w->reason, sizeof(w->reason), "%s",
                 reason != NULL ? reason : "(null)");
        break;
    }
}

static int
is_ready(void *arg)
{
    return ((watch_t *) arg)->last == FG_REDIS_READY;
}

static int
is_down(void *arg)
{
    return ((watch_t *) arg)->down > 0;
}

typedef struct {
    int               calls;
    fg_redis_result_t result;
    int               type;          /* REDIS_REPLY_*, 0 without a reply */
    char              str[256];
    size_t            len;
    long long         integer;
    char              detail[512];
    int64_t           at_ms;
} outcome_t;

static void
record(fg_redis_t *r, fg_redis_result_t result, const redisReply *reply,
       const char *detail, void *arg)
{
    outcome_t *o = arg;

    (void) r;
    o->calls++;
    o->result = result;
    o->at_ms = fg_mono_ms();
    o->type = reply != NULL ? reply->type : 0;
    if (reply != NULL && reply->str != NULL) {
        o->len = reply->len < sizeof(o->str) ? reply->len : sizeof(o->str);
        memcpy(o->str, reply->str, o->len);
    }
    if (reply != NULL) {
        o->integer = reply->integer;
    }
    snprintf(o->detail, sizeof(o->detail), "%s",
             detail != NULL ? detail : "");
}

static int
has_outcome(void *arg)
{
    return ((outcome_t *) arg)->calls > 0;
}

typedef struct {
    outcome_t *o;
    int        n;
} outcomes_t;

static int
all_have_outcomes(void *arg)
{
    outcomes_t *os = arg;
    int         i;

    for (i = 0; i < os->n; i++) {
        if (os->o[i].calls == 0) {
            return 0;
        }
    }
    return 1;
}

/* A connection to @url text with test-sized timeouts, watched by @w. */
static fg_redis_t *
connect_to(struct event_base *base, const char *text, watch_t *w,
           fg_redis_options_t *o_in)
{
    fg_redisurl_t      url;
    fg_redis_options_t o;
    fg_err_t           err;
    fg_redis_t        *r;

    memset(w, 0, sizeof(*w));
    w->last = FG_REDIS_CONNECTING;
    if (fg_redisurl_parse(text, &url, &err) != FG_OK) {
        FG_TEST_FAIL("redis URL: %s", err.msg);
        return NULL;
    }
    if (o_in != NULL) {
        o = *o_in;
    } else {
        fg_redis_options_init(&o);
        o.connect_timeout_ms = 1000;
        o.command_timeout_ms = 1000;
        o.backoff_min_ms = 50;
        o.backoff_max_ms = 400;
    }
    o.on_state = watch_state;
    o.state_arg = w;
    r = fg_redis_new(base, &url, &o, &err);
    if (r == NULL) {
        FG_TEST_FAIL("fg_redis_new: %s", err.msg);
    }
    return r;
}

/* Sends @argv (NUL-terminated strings) and waits for its outcome. */
static void
call(struct event_base *base, fg_redis_t *r, outcome_t *o, int argc,
     const char *const *argv)
{
    memset(o, 0, sizeof(*o));
    fg_redis_command(r, record, o, argc, argv, NULL);
    if (!run_until(base, has_outcome, o, READY_MS)) {
        FG_TEST_FAIL("no outcome for %s within %d ms", argv[0], READY_MS);
    }
}

/* ---- tests -------------------------------------------------------------- */

static void
redis_command_round_trip_is_binary_safe(void)
{
    static const char  value[] = { 'a', '\0', 'b', '\r', '\n', '\xff' };
    static const char  key[] = { 'k', '\0', '1' };
    struct event_base *base = event_base_new();
    redis_server_t           s;
    watch_t            w;
    fg_redis_t        *r = NULL;
    outcome_t          o;
    const char        *set[] = { "SET", key, value };
    const size_t       set_len[] = { 3, sizeof(key), sizeof(value) };
    const char        *get[] = { "GET", key };
    const size_t       get_len[] = { 3, sizeof(key) };

    if (redis_server_start(&s, NULL) != 0) {
        goto out;
    }
    r = connect_to(base, s.url, &w, NULL);
    if (r == NULL || !run_until(base, is_ready, &w, READY_MS)) {
        FG_TEST_FAIL("not ready: %s", w.reason);
        goto out;
    }
    expect_int_eq(w.connecting, 0);   /* the first attempt is not a change */
    expect_int_eq(fg_redis_state(r), FG_REDIS_READY);
    memset(&o, 0, sizeof(o));
    expect_int_eq(fg_redis_command(r, record, &o, 3, set, set_len), FG_OK);
    expect_int_eq(o.calls, 0);        /* never from inside the call */
    expect_int_eq(fg_redis_in_flight(r), 1);
    expect_true(run_until(base, has_outcome, &o, READY_MS));
    expect_int_eq(o.result, FG_REDIS_OK);
    expect_int_eq(o.type, REDIS_REPLY_STATUS);
    memset(&o, 0, sizeof(o));
    fg_redis_command(r, record, &o, 2, get, get_len);
    expect_true(run_until(base, has_outcome, &o, READY_MS));
    expect_int_eq(o.calls, 1);
    expect_int_eq(o.result, FG_REDIS_OK);
    expect_int_eq(o.type, REDIS_REPLY_STRING);
    expect_int_eq(o.len, sizeof(value));
    expect_true(memcmp(o.str, value, sizeof(value)) == 0);
    expect_int_eq(fg_redis_in_flight(r), 0);
    {
        const char *bad[] = { "INCR", "k" };
        const char *set_k[] = { "SET", "k", "not a number" };

        call(base, r, &o, 3, set_k);
        call(base, r, &o, 2, bad);
        expect_int_eq(o.result, FG_REDIS_ERROR_REPLY);
        expect_int_eq(o.type, REDIS_REPLY_ERROR);
        expect_true(strstr(o.detail, "not an integer") != NULL);
    }
out:
    fg_redis_free(r);
    event_base_free(base);
    redis_server_stop(&s);
}

static void
redis_auth_with_the_right_password_reaches_ready(void)
{
    static const char *const extra[] = { "--requirepass", SECRET, NULL };
    struct event_base *base = event_base_new();
    redis_server_t           s;
    watch_t            w, w2;
    fg_redis_t        *r = NULL, *r2 = NULL;
    outcome_t          o;
    char               url[256];

    if (redis_server_start(&s, extra) != 0) {
        goto out;
    }
    snprintf(url, sizeof(url), "unix://%s?password=%s", s.sock, SECRET);
    r = connect_to(base, url, &w, NULL);
    if (r == NULL || !run_until(base, is_ready, &w, READY_MS)) {
        FG_TEST_FAIL("not ready: %s", w.reason);
        goto out;
    }
    {
        const char *acl[] = { "ACL", "SETUSER", "syncer", "on", ">syncer-pw",
                              "~*", "+@all" };

        call(base, r, &o, 7, acl);
        expect_int_eq(o.result, FG_REDIS_OK);
    }
    /* An ACL user: AUTH user password. */
    snprintf(url, sizeof(url), "unix://%s?user=syncer&password=syncer-pw",
             s.sock);
    r2 = connect_to(base, url, &w2, NULL);
    if (r2 == NULL || !run_until(base, is_ready, &w2, READY_MS)) {
        FG_TEST_FAIL("ACL user not ready: %s", w2.reason);
        goto out;
    }
    {
        const char *who[] = { "ACL", "WHOAMI" };

        call(base, r2, &o, 2, who);
        expect_int_eq(o.result, FG_REDIS_OK);
        expect_int_eq(o.len, 6);
        expect_true(memcmp(o.str, "syncer", 6) == 0);
    }
out:
    fg_redis_free(r);
    fg_redis_free(r2);
    event_base_free(base);
    redis_server_stop(&s);
}

static void
redis_auth_refused_is_down_with_a_reason_not_quoting_the_password(void)
{
    static const char *const extra[] = { "--requirepass", SECRET, NULL };
    struct event_base *base = event_base_new();
    redis_server_t           s;
    watch_t            w;
    fg_redis_t        *r = NULL;
    char               url[256];

    if (redis_server_start(&s, extra) != 0) {
        goto out;
    }
    snprintf(url, sizeof(url), "unix://%s?password=Wrong-Pw-77", s.sock);
    r = connect_to(base, url, &w, NULL);
    if (r == NULL || !run_until(base, is_down, &w, READY_MS)) {
        FG_TEST_FAIL("a wrong password did not bring the state down");
        goto out;
    }
    expect_int_eq(fg_redis_state(r), FG_REDIS_DOWN);
    expect_int_eq(w.ready, 0);
    expect_true(strstr(w.reason, "AUTH refused") != NULL);
    expect_true(strstr(w.reason, "Wrong-Pw-77") == NULL);
    expect_true(strstr(w.reason, SECRET) == NULL);
    expect_str_eq(fg_redis_reason(r), w.reason);
    /* It keeps trying, and keeps failing the same way. */
    {
        int down_before = w.down;

        run_until(base, never, NULL, 300);
        expect_true(w.down > down_before);
        expect_true(w.connecting > 0);
        expect_int_eq(w.ready, 0);
    }
    fg_redis_free(r);
    /* No password at all: Redis says NOAUTH to the handshake. */
    r = connect_to(base, s.url, &w, NULL);
    if (r == NULL || !run_until(base, is_down, &w, READY_MS)) {
        FG_TEST_FAIL("no password did not bring the state down");
        goto out;
    }
    expect_true(strstr(w.reason, "wants a password") != NULL);
out:
    fg_redis_free(r);
    event_base_free(base);
    redis_server_stop(&s);
}

static void
redis_selects_the_database_of_the_url(void)
{
    struct event_base *base = event_base_new();
    redis_server_t           s;
    watch_t            w0, w3, wbad;
    fg_redis_t        *r0 = NULL, *r3 = NULL, *rbad = NULL;
    outcome_t          o;
    char               url[256];
    const char        *set[] = { "SET", "where", "db3" };
    const char        *get[] = { "GET", "where" };

    if (redis_server_start(&s, NULL) != 0) {
        goto out;
    }
    snprintf(url, sizeof(url), "unix://%s?db=3", s.sock);
    r3 = connect_to(base, url, &w3, NULL);
    r0 = connect_to(base, s.url, &w0, NULL);
    if (r3 == NULL || r0 == NULL || !run_until(base, is_ready, &w3, READY_MS)
        || !run_until(base, is_ready, &w0, READY_MS)) {
        FG_TEST_FAIL("not ready: %s / %s", w3.reason, w0.reason);
        goto out;
    }
    call(base, r3, &o, 3, set);
    expect_int_eq(o.result, FG_REDIS_OK);
    call(base, r0, &o, 2, get);
    expect_int_eq(o.result, FG_REDIS_OK);
    expect_int_eq(o.type, REDIS_REPLY_NIL);
    call(base, r3, &o, 2, get);
    expect_int_eq(o.type, REDIS_REPLY_STRING);
    expect_true(o.len == 3 && memcmp(o.str, "db3", 3) == 0);
    /* A database the server does not have (16 by default). */
    snprintf(url, sizeof(url), "unix://%s?db=99", s.sock);
    rbad = connect_to(base, url, &wbad, NULL);
    if (rbad == NULL || !run_until(base, is_down, &wbad, READY_MS)) {
        FG_TEST_FAIL("db 99 did not bring the state down");
        goto out;
    }
    expect_true(strstr(wbad.reason, "SELECT 99 refused") != NULL);
out:
    fg_redis_free(r0);
    fg_redis_free(r3);
    fg_redis_free(rbad);
    event_base_free(base);
    redis_server_stop(&s);
}

static void
redis_reports_durable_only_with_appendfsync_always(void)
{
    static const char *const everysec[] = { "--appendfsync", "everysec",
                                            NULL };
    static const char *const no_aof[] = { "--appendonly", "no", NULL };
    struct event_base *base = event_base_new();
    redis_server_t           s1, s2, s3;
    watch_t            w1, w2, w3;
    fg_redis_t        *r1 = NULL, *r2 = NULL, *r3 = NULL;
    const char        *detail = NULL;

    memset(&s2, 0, sizeof(s2));
    memset(&s3, 0, sizeof(s3));
    if (redis_server_start(&s1, NULL) != 0 || redis_server_start(&s2, everysec) != 0
        || redis_server_start(&s3, no_aof) != 0) {
        goto out;
    }
    r1 = connect_to(base, s1.url, &w1, NULL);
    expect_int_eq(fg_redis_durability(r1, &detail),
                  FG_REDIS_DURABILITY_UNKNOWN);
    r2 = connect_to(base, s2.url, &w2, NULL);
    r3 = connect_to(base, s3.url, &w3, NULL);
    if (!run_until(base, is_ready, &w1, READY_MS)
        || !run_until(base, is_ready, &w2, READY_MS)
        || !run_until(base, is_ready, &w3, READY_MS)) {
        FG_TEST_FAIL("not ready: %s / %s / %s", w1.reason, w2.reason,
                     w3.reason);
        goto out;
    }
    expect_int_eq(fg_redis_durability(r1, &detail), FG_REDIS_DURABLE);
    expect_str_eq(detail, "appendonly yes, appendfsync always");
    expect_int_eq(fg_redis_durability(r2, &detail), FG_REDIS_NOT_DURABLE);
    expect_str_eq(detail, "appendonly yes, appendfsync everysec");
    expect_int_eq(fg_redis_durability(r3, &detail), FG_REDIS_NOT_DURABLE);
    expect_str_eq(detail, "appendonly no, appendfsync always");
out:
    fg_redis_free(r1);
    fg_redis_free(r2);
    fg_redis_free(r3);
    event_base_free(base);
    redis_server_stop(&s1);
    redis_server_stop(&s2);
    redis_server_stop(&s3);
}

static void
redis_reports_unverifiable_when_config_is_renamed_away(void)
{
    static const char *const extra[] = { "--rename-command", "CONFIG", "",
                                         NULL };
    struct event_base *base = event_base_new();
    redis_server_t           s;
    watch_t            w;
    fg_redis_t        *r = NULL;
    const char        *detail = NULL;

    if (redis_server_start(&s, extra) != 0) {
        goto out;
    }
    r = connect_to(base, s.url, &w, NULL);
    if (r == NULL || !run_until(base, is_ready, &w, READY_MS)) {
        FG_TEST_FAIL("not ready: %s", w.reason);
        goto out;
    }
    expect_int_eq(fg_redis_durability(r, &detail), FG_REDIS_UNVERIFIABLE);
    expect_true(strstr(detail, "CONFIG GET appendonly refused") != NULL);
out:
    fg_redis_free(r);
    event_base_free(base);
    redis_server_stop(&s);
}

static void
redis_command_timeout_drops_the_connection_and_it_comes_back(void)
{
    struct event_base *base = event_base_new();
    redis_server_t           s;
    watch_t            w;
    fg_redis_t        *r = NULL;
    fg_redis_options_t opt;
    outcome_t          o[2];
    outcomes_t         both = { o, 2 };
    const char        *get[] = { "GET", "k" };
    const char        *ping[] = { "PING" };
    int64_t            sent_ms;

    fg_redis_options_init(&opt);
    opt.connect_timeout_ms = 300;
    opt.command_timeout_ms = 300;
    opt.backoff_min_ms = 50;
    opt.backoff_max_ms = 200;
    if (redis_server_start(&s, NULL) != 0) {
        goto out;
    }
    r = connect_to(base, s.url, &w, &opt);
    if (r == NULL || !run_until(base, is_ready, &w, READY_MS)) {
        FG_TEST_FAIL("not ready: %s", w.reason);
        goto out;
    }
    kill(s.pid, SIGSTOP);
    memset(o, 0, sizeof(o));
    sent_ms = fg_mono_ms();
    fg_redis_command(r, record, &o[0], 2, get, NULL);
    run_until(base, never, NULL, 100);
    fg_redis_command(r, record, &o[1], 2, get, NULL);
    expect_true(run_until(base, all_have_outcomes, &both, 300 + 1000));
    expect_int_eq(o[0].calls, 1);
    expect_int_eq(o[0].result, FG_REDIS_TIMEOUT);
    expect_true(o[0].at_ms - sent_ms >= 300);
    expect_true(o[0].at_ms - sent_ms <= 300 + SLACK_MS);
    /* Sent later, not yet due: failed with the connection. */
    expect_int_eq(o[1].calls, 1);
    expect_int_eq(o[1].result, FG_REDIS_DISCONNECTED);
    expect_true(strstr(o[1].detail, "no reply within 300 ms") != NULL);
    expect_int_eq(w.down, 1);
    expect_true(strstr(w.reason, "no reply within 300 ms") != NULL);
    expect_int_eq(fg_redis_in_flight(r), 0);
    /* Attempts against the stopped server time out too, then it wakes. */
    run_until(base, never, NULL, 400);
    expect_true(w.connecting >= 1);
    expect_int_eq(w.ready, 1);
    kill(s.pid, SIGCONT);
    if (!run_until(base, is_ready, &w, READY_MS)) {
        FG_TEST_FAIL("did not come back: %s", w.reason);
        goto out;
    }
    call(base, r, &o[0], 1, ping);
    expect_int_eq(o[0].result, FG_REDIS_OK);
    expect_true(o[0].len == 4 && memcmp(o[0].str, "PONG", 4) == 0);
out:
    fg_redis_free(r);
    event_base_free(base);
    redis_server_stop(&s);
}

static void
redis_server_restart_fails_pending_and_reconnects_with_backoff(void)
{
    struct event_base *base = event_base_new();
    redis_server_t           s;
    watch_t            w;
    fg_redis_t        *r = NULL;
    fg_redis_options_t opt;
    outcome_t          o[2];
    outcomes_t         both = { o, 2 };
    const char        *set[] = { "SET", "k", "v" };
    const char        *get[] = { "GET", "k" };
    int64_t            killed_ms;

    fg_redis_options_init(&opt);
    opt.connect_timeout_ms = 1000;
    opt.command_timeout_ms = 5000;
    opt.backoff_min_ms = 50;
    opt.backoff_max_ms = 400;
    if (redis_server_start(&s, NULL) != 0) {
        goto out;
    }
    r = connect_to(base, s.url, &w, &opt);
    if (r == NULL || !run_until(base, is_ready, &w, READY_MS)) {
        FG_TEST_FAIL("not ready: %s", w.reason);
        goto out;
    }
    call(base, r, &o[0], 3, set);
    expect_int_eq(o[0].result, FG_REDIS_OK);
    /* Two commands written to a stopped server, which then dies. */
    kill(s.pid, SIGSTOP);
    memset(o, 0, sizeof(o));
    fg_redis_command(r, record, &o[0], 2, get, NULL);
    fg_redis_command(r, record, &o[1], 2, get, NULL);
    run_until(base, never, NULL, 50);
    expect_int_eq(o[0].calls + o[1].calls, 0);
    redis_server_kill(&s, SIGKILL);
    killed_ms = fg_mono_ms();
    expect_true(run_until(base, all_have_outcomes, &both, 1000));
    expect_int_eq(o[0].result, FG_REDIS_DISCONNECTED);
    expect_int_eq(o[1].result, FG_REDIS_DISCONNECTED);
    expect_int_eq(o[0].calls + o[1].calls, 2);
    expect_true(o[1].at_ms - killed_ms < 1000);   /* not the 5 s timeout */
    expect_true(strstr(o[0].detail, "connection lost") != NULL);
    expect_int_eq(w.last, FG_REDIS_DOWN);
    /* Attempts are spaced by the backoff (50 ms doubling to 400 ms, each
     * delay at least half its bound): within one second at most
     * 25 + 50 + 100 + 200 + 200 + 200 + 200 = 975 ms of waits, so at most
     * 7 attempts; 8 allows for slack. */
    run_until(base, never, NULL, 1000);
    expect_true(w.connecting >= 2);
    expect_true(w.connecting <= 8);
    expect_int_eq(w.ready, 1);
    memset(o, 0, sizeof(o));
    expect_int_eq(fg_redis_command(r, record, &o[0], 2, get, NULL), FG_ERR);
    expect_int_eq(o[0].result, FG_REDIS_REFUSED);
    if (redis_server_run(&s) != 0) {
        goto out;
    }
    if (!run_until(base, is_ready, &w, READY_MS)) {
        FG_TEST_FAIL("did not reconnect: %s", w.reason);
        goto out;
    }
    expect_int_eq(w.ready, 2);
    /* The append-only file kept the write from before the restart. */
    call(base, r, &o[0], 2, get);
    expect_int_eq(o[0].result, FG_REDIS_OK);
    expect_true(o[0].len == 1 && o[0].str[0] == 'v');
out:
    fg_redis_free(r);
    event_base_free(base);
    redis_server_stop(&s);
}

static void
redis_refuses_commands_beyond_max_in_flight_at_once(void)
{
    struct event_base *base = event_base_new();
    redis_server_t           s;
    watch_t            w;
    fg_redis_t        *r = NULL;
    fg_redis_options_t opt;
    outcome_t          o[4], extra;
    outcomes_t         three = { o, 3 };
    const char        *ping[] = { "PING" };
    const char        *sub[] = { "subscribe", "ch" };
    const char        *sel[] = { "SELECT", "2" };
    int                i;

    fg_redis_options_init(&opt);
    opt.max_in_flight = 3;
    if (redis_server_start(&s, NULL) != 0) {
        goto out;
    }
    r = connect_to(base, s.url, &w, &opt);
    /* Not ready yet: refused, the callback already run. */
    memset(&extra, 0, sizeof(extra));
    expect_int_eq(fg_redis_command(r, record, &extra, 1, ping, NULL),
                  FG_ERR);
    expect_int_eq(extra.calls, 1);
    expect_int_eq(extra.result, FG_REDIS_REFUSED);
    expect_true(strstr(extra.detail, "not ready") != NULL);
    if (r == NULL || !run_until(base, is_ready, &w, READY_MS)) {
        FG_TEST_FAIL("not ready: %s", w.reason);
        goto out;
    }
    memset(o, 0, sizeof(o));
    for (i = 0; i < 3; i++) {
        expect_int_eq(fg_redis_command(r, record, &o[i], 1, ping, NULL),
                      FG_OK);
    }
    expect_int_eq(fg_redis_command(r, record, &o[3], 1, ping, NULL),
                  FG_ERR);
    expect_int_eq(o[3].calls, 1);
    expect_int_eq(o[3].result, FG_REDIS_REFUSED);
    expect_true(strstr(o[3].detail, "max_in_flight") != NULL);
    expect_int_eq(fg_redis_in_flight(r), 3);
    expect_true(run_until(base, all_have_outcomes, &three, READY_MS));
    for (i = 0; i < 3; i++) {
        expect_int_eq(o[i].calls, 1);
        expect_int_eq(o[i].result, FG_REDIS_OK);
    }
    expect_int_eq(o[3].calls, 1);
    expect_int_eq(fg_redis_in_flight(r), 0);
    call(base, r, &extra, 1, ping);
    expect_int_eq(extra.result, FG_REDIS_OK);
    /* Commands that would break the reply pairing or the login. */
    memset(&extra, 0, sizeof(extra));
    expect_int_eq(fg_redis_command(r, record, &extra, 2, sub, NULL), FG_ERR);
    expect_int_eq(extra.result, FG_REDIS_REFUSED);
    memset(&extra, 0, sizeof(extra));
    expect_int_eq(fg_redis_command(r, record, &extra, 2, sel, NULL), FG_ERR);
    expect_int_eq(extra.result, FG_REDIS_REFUSED);
    memset(&extra, 0, sizeof(extra));
    expect_int_eq(fg_redis_command(r, record, &extra, 0, ping, NULL), FG_ERR);
    expect_int_eq(extra.result, FG_REDIS_REFUSED);
out:
    fg_redis_free(r);
    event_base_free(base);
    redis_server_stop(&s);
}

static void
redis_connect_times_out_on_a_listener_that_never_answers(void)
{
    struct event_base *base = event_base_new();
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t          len = sizeof(sa);
    watch_t            w;
    fg_redis_t        *r = NULL;
    fg_redis_options_t opt;
    char               url[64];
    int                fd;
    int64_t            started_ms;

    /* Listens (the kernel completes the TCP handshake) but never accepts
     * nor reads: connect(2) succeeds, the Redis handshake never ends. */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0
        || listen(fd, 16) != 0
        || getsockname(fd, (struct sockaddr *) &sa, &len) != 0) {
        FG_TEST_FAIL("listener: %s", strerror(errno));
        goto out;
    }
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", ntohs(sa.sin_port));
    fg_redis_options_init(&opt);
    opt.connect_timeout_ms = 300;
    opt.backoff_min_ms = 1000;
    opt.backoff_max_ms = 1000;
    started_ms = fg_mono_ms();
    r = connect_to(base, url, &w, &opt);
    if (r == NULL || !run_until(base, is_down, &w, 300 + 1000)) {
        FG_TEST_FAIL("no timeout on a silent listener");
        goto out;
    }
    expect_true(fg_mono_ms() - started_ms >= 300 - EARLY_MS);
    expect_true(fg_mono_ms() - started_ms <= 300 + SLACK_MS);
    expect_true(strstr(w.reason, "no answer to the handshake within 300 ms")
                != NULL);
    expect_int_eq(w.ready, 0);
    fg_redis_free(r);
    /* Nothing listening at all: refused at once, not timed out. */
    close(fd);
    fd = -1;
    started_ms = fg_mono_ms();
    r = connect_to(base, url, &w, &opt);
    if (r == NULL || !run_until(base, is_down, &w, 300 + 1000)) {
        FG_TEST_FAIL("no failure on a closed port");
        goto out;
    }
    expect_true(fg_mono_ms() - started_ms < 300);
    expect_true(strstr(w.reason, "connect to 127.0.0.1:") != NULL);
out:
    if (fd >= 0) {
        close(fd);
    }
    fg_redis_free(r);
    event_base_free(base);
}

static void
redis_free_with_pending_commands_calls_each_callback_once(void)
{
    struct event_base *base = event_base_new();
    redis_server_t           s;
    watch_t            w;
    fg_redis_t        *r = NULL;
    outcome_t          o[3];
    const char        *ping[] = { "PING" };
    int                i;

    if (redis_server_start(&s, NULL) != 0) {
        goto out;
    }
    r = connect_to(base, s.url, &w, NULL);
    if (r == NULL || !run_until(base, is_ready, &w, READY_MS)) {
        FG_TEST_FAIL("not ready: %s", w.reason);
        goto out;
    }
    /* One queued, two written to a stopped server. */
    kill(s.pid, SIGSTOP);
    memset(o, 0, sizeof(o));
    fg_redis_command(r, record, &o[0], 1, ping, NULL);
    fg_redis_command(r, record, &o[1], 1, ping, NULL);
    run_until(base, never, NULL, 50);
    fg_redis_command(r, record, &o[2], 1, ping, NULL);
    w.down = 0;
    fg_redis_free(r);
    r = NULL;
    for (i = 0; i < 3; i++) {
        expect_int_eq(o[i].calls, 1);
        expect_int_eq(o[i].result, FG_REDIS_DISCONNECTED);
    }
    expect_int_eq(w.down, 0);   /* the state callback is not told */
    kill(s.pid, SIGCONT);
    run_until(base, never, NULL, 100);
    for (i = 0; i < 3; i++) {
        expect_int_eq(o[i].calls, 1);
    }
out:
    fg_redis_free(r);
    event_base_free(base);
    redis_server_stop(&s);
}

typedef struct {
    fg_redis_t **r;
    outcome_t    o;
} freer_t;

static void
free_in_callback(fg_redis_t *r, fg_redis_result_t result,
                 const redisReply *reply, const char *detail, void *arg)
{
    freer_t *f = arg;

    record(r, result, reply, detail, &f->o);
    fg_redis_free(r);
    fg_redis_free(r);   /* a second call inside the first is ignored */
    *f->r = NULL;
}

static void
redis_free_from_a_reply_callback_fails_the_rest_once(void)
{
    struct event_base *base = event_base_new();
    redis_server_t           s;
    watch_t            w;
    fg_redis_t        *r = NULL;
    freer_t            f;
    outcome_t          o[2];
    const char        *ping[] = { "PING" };

    if (redis_server_start(&s, NULL) != 0) {
        goto out;
    }
    r = connect_to(base, s.url, &w, NULL);
    if (r == NULL || !run_until(base, is_ready, &w, READY_MS)) {
        FG_TEST_FAIL("not ready: %s", w.reason);
        goto out;
    }
    memset(&f, 0, sizeof(f));
    memset(o, 0, sizeof(o));
    f.r = &r;
    fg_redis_command(r, free_in_callback, &f, 1, ping, NULL);
    fg_redis_command(r, record, &o[0], 1, ping, NULL);
    fg_redis_command(r, record, &o[1], 1, ping, NULL);
    expect_true(run_until(base, has_outcome, &f.o, READY_MS));
    expect_true(r == NULL);
    expect_int_eq(f.o.calls, 1);
    expect_int_eq(f.o.result, FG_REDIS_OK);
    expect_int_eq(o[0].calls, 1);
    expect_int_eq(o[0].result, FG_REDIS_DISCONNECTED);
    expect_int_eq(o[1].calls, 1);
    expect_int_eq(o[1].result, FG_REDIS_DISCONNECTED);
    run_until(base, never, NULL, 100);
    expect_int_eq(o[0].calls + o[1].calls + f.o.calls, 3);
out:
    fg_redis_free(r);
    event_base_free(base);
    redis_server_stop(&s);
}

typedef struct {
    fg_redis_t **r;
    int          calls;
} state_freer_t;

static void
free_when_down(fg_redis_t *r, fg_redis_state_t state, const char *reason,
               void *arg)
{
    state_freer_t *f = arg;

    (void) reason;
    f->calls++;
    if (state == FG_REDIS_DOWN) {
        fg_redis_free(r);
        *f->r = NULL;
    }
}

static void
redis_free_from_the_state_callback_stops_everything(void)
{
    struct event_base *base = event_base_new();
    fg_redisurl_t      url;
    fg_redis_options_t o;
    fg_err_t           err;
    fg_redis_t        *r;
    state_freer_t      f = { &r, 0 };

    expect_int_eq(fg_redisurl_parse("/tmp/fg-test-redis-none/redis.sock",
                                    &url, &err), FG_OK);
    fg_redis_options_init(&o);
    o.backoff_min_ms = 10;
    o.backoff_max_ms = 10;
    o.on_state = free_when_down;
    o.state_arg = &f;
    r = fg_redis_new(base, &url, &o, &err);
    expect_true(r != NULL);
    run_until(base, never, NULL, 200);
    expect_true(r == NULL);
    expect_int_eq(f.calls, 1);
    expect_int_eq(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED),
                  0);
    fg_redis_free(r);
    event_base_free(base);
}

static void
redis_new_refuses_options_out_of_range(void)
{
    struct event_base *base = event_base_new();
    fg_redisurl_t      url;
    fg_redis_options_t o;
    fg_err_t           err;

    expect_int_eq(fg_redisurl_parse("/tmp/none.sock", &url, &err), FG_OK);
    fg_redis_options_init(&o);
    o.command_timeout_ms = 0;
    expect_true(fg_redis_new(base, &url, &o, &err) == NULL);
    expect_true(strstr(err.msg, "timeouts") != NULL);
    fg_redis_options_init(&o);
    o.max_in_flight = 0;
    expect_true(fg_redis_new(base, &url, &o, &err) == NULL);
    expect_true(strstr(err.msg, "max_in_flight") != NULL);
    fg_redis_options_init(&o);
    o.backoff_min_ms = 500;
    o.backoff_max_ms = 100;
    expect_true(fg_redis_new(base, &url, &o, &err) == NULL);
    expect_true(strstr(err.msg, "backoff") != NULL);
    event_base_free(base);
}

FG_TEST_MAIN("redis",
             FG_TEST_CASE(redis_command_round_trip_is_binary_safe),
             FG_TEST_CASE(redis_auth_with_the_right_password_reaches_ready),
             FG_TEST_CASE(
                 redis_auth_refused_is_down_with_a_reason_not_quoting_the_password),
             FG_TEST_CASE(redis_selects_the_database_of_the_url),
             FG_TEST_CASE(redis_reports_durable_only_with_appendfsync_always),
             FG_TEST_CASE(
                 redis_reports_unverifiable_when_config_is_renamed_away),
             FG_TEST_CASE(
                 redis_command_timeout_drops_the_connection_and_it_comes_back),
             FG_TEST_CASE(
                 redis_server_restart_fails_pending_and_reconnects_with_backoff),
             FG_TEST_CASE(redis_refuses_commands_beyond_max_in_flight_at_once),
             FG_TEST_CASE(
                 redis_connect_times_out_on_a_listener_that_never_answers),
             FG_TEST_CASE(
                 redis_free_with_pending_commands_calls_each_callback_once),
             FG_TEST_CASE(redis_free_from_a_reply_callback_fails_the_rest_once),
             FG_TEST_CASE(redis_free_from_the_state_callback_stops_everything),
             FG_TEST_CASE(redis_new_refuses_options_out_of_range))
