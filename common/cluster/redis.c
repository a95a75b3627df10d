/*
 * redis.c: the syncer's connection to Redis (see redis.h).
 *
 * hiredis 0.14 does the protocol; this file does the rest: the attempt
 * cycle (CONNECTING -> READY or DOWN -> after a backoff, CONNECTING), the
 * handshake, the timeouts hiredis lacks, the in-flight bound, and the
 * promise of exactly one callback per command.
 *
 * Commands. Every accepted command is a node in a doubly linked list, in
 * the order sent; hiredis gets the node as its privdata. All commands
 * share one timeout and Redis answers in order, so the oldest command has
 * the earliest deadline: one timer, armed for the list's head, covers
 * them all. The list, not hiredis, is the authority on what is pending:
 * when a connection ends, the list is taken whole and each of its
 * commands failed from here. hiredis also "fails" its pending callbacks
 * (with a NULL reply) when it frees a context; those calls are ignored,
 * and never read their privdata, which may already be freed.
 *
 * Re-entrancy, the hard part. hiredis frees a context in three ways, and
 * each constrains when this file may free one:
 *   1) from inside a reply callback, redisAsyncFree() only marks the
 *      context, and hiredis frees it when the callback returns;
 *   2) on its own (a failed connect, a closed or broken socket, an error
 *      Redis sent unasked), hiredis frees it from deep inside its event
 *      handlers; the one hook every such free passes through is the
 *      event adapter's cleanup, which this file wraps (redis_on_cleanup):
 *      there the context must be let go of, never freed again;
 *   3) anywhere else (our timers, the caller's code), redisAsyncFree()
 *      frees at once.
 * So a context is detached (ac->data = NULL, r->ac = NULL) before any
 * user callback runs, every hiredis callback returns at once on a
 * detached context, and the connect callback, after which hiredis goes
 * on using the context, only notes that the socket is up. Reconnecting
 * always goes through a timer, never from inside a hiredis callback.
 *
 * The object itself outlives a callback that frees it: every entry from
 * the loop counts itself in r->depth, fg_redis_free() inside a callback
 * only tears the connection down and marks the object, and the outermost
 * entry releases the memory on its way out.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "common/base/alloc.h"
#include "common/base/clock.h"
#include "common/cluster/redis.h"

#define RD_REASON_MAX  512
#define RD_DETAIL_MAX  256

/* The handshake's steps, in the order they are pipelined. */
typedef enum {
    RD_HS_AUTH = 1,
    RD_HS_SELECT,
    RD_HS_APPENDONLY,
    RD_HS_APPENDFSYNC
} redis_hs_step_t;

typedef struct redis_cmd_s redis_cmd_t;

struct redis_cmd_s {
    redis_cmd_t       *prev, *next;
    fg_redis_reply_cb  cb;
    void              *arg;
    int64_t            deadline_ms;   /* monotonic */
};

struct fg_redis_s {
    struct event_base    *base;
    fg_redisurl_t         url;
    fg_redis_options_t    o;
    char                  where[FG_REDISURL_PATH_MAX + FG_REDISURL_HOST_MAX
                                + 16];   /* host:port or path, for reasons */

    redisAsyncContext    *ac;           /* NULL between attempts */
    int                   is_connected; /* this attempt's connect(2) done */
    fg_redis_state_t      state;
    char                  reason[RD_REASON_MAX];

    /* The handshake's findings. */
    char                  appendonly[16];
    char                  appendfsync[16];
    char                  config_err[RD_DETAIL_MAX];   /* "": CONFIG fine */
    fg_redis_durability_t durability;
    char                  durability_detail[RD_DETAIL_MAX];

    redis_cmd_t          *head, *tail;  /* pending, oldest first */
    int64_t               in_flight;

    struct event         *attempt_ev;   /* starts the next attempt */
    struct event         *connect_ev;   /* the attempt's deadline */
    struct event         *command_ev;   /* the head command's deadline */
    int64_t               backoff_ms;   /* the next delay's upper bound */
    uint64_t              rng;          /* xorshift64 state, for jitter */

    int                   depth;        /* entries from the loop running */
    int                   is_freeing;   /* fg_redis_free() was called */
};

static void redis_enter(fg_redis_t *r);
static int redis_leave(fg_redis_t *r);
static void redis_release(fg_redis_t *r);
static void redis_set_state(fg_redis_t *r, fg_redis_state_t state,
                            const char *reason);
static void redis_set_reason(fg_redis_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void redis_detach(fg_redis_t *r, int hiredis_frees);
static void redis_fail_pending(fg_redis_t *r, int may_time_out,
                               const char *detail);
static void redis_down(fg_redis_t *r, int hiredis_frees, int timed_out);
static void redis_arm_command_timer(fg_redis_t *r);
static int64_t redis_next_delay(fg_redis_t *r);
static void redis_attempt(evutil_socket_t fd, short what, void *arg);
static void redis_connect_timeout(evutil_socket_t fd, short what, void *arg);
static void redis_command_timeout(evutil_socket_t fd, short what,
                                  void *arg);
static int redis_send_handshake(fg_redis_t *r);
static void redis_on_connect(const redisAsyncContext *ac, int status);
static void redis_on_cleanup(void *privdata);
static void redis_on_handshake(redisAsyncContext *ac, void *reply,
                               void *privdata);
static int redis_handshake_config(fg_redis_t *r, const redisReply *reply,
                                  const char *name, char *value,
                                  size_t size);
static void redis_ready(fg_redis_t *r);
static void redis_on_reply(redisAsyncContext *ac, void *reply,
                           void *privdata);
static const char *redis_refusal(const fg_redis_t *r, int argc,
                                 const char *const *argv,
                                 const size_t *argvlen, char *buf,
                                 size_t size);

void
fg_redis_options_init(fg_redis_options_t *o)
{
    memset(o, 0, sizeof(*o));
    o->connect_timeout_ms = 2000;
    o->command_timeout_ms = 2000;
    o->max_in_flight = 1024;
    o->backoff_min_ms = 100;
    o->backoff_max_ms = 5000;
}

fg_redis_t *
fg_redis_new(struct event_base *base, const fg_redisurl_t *url,
             const fg_redis_options_t *options, fg_err_t *err)
{
    const fg_redis_options_t *o = options;
    fg_redis_t               *r;
    struct timeval            now = { 0, 0 };

    if (o->connect_timeout_ms < 1
        || o->connect_timeout_ms > FG_REDIS_TIMEOUT_MAX_MS
        || o->command_timeout_ms < 1
        || o->command_timeout_ms > FG_REDIS_TIMEOUT_MAX_MS) {
        fg_err_set(err, FG_E_INVALID_VALUE, NULL, "Redis timeouts must be "
                   "from 1 to %d ms", FG_REDIS_TIMEOUT_MAX_MS);
        return NULL;
    }
    if (o->max_in_flight < 1 || o->max_in_flight > FG_REDIS_IN_FLIGHT_MAX) {
        fg_err_set(err, FG_E_INVALID_VALUE, NULL, "Redis max_in_flight "
                   "must be from 1 to %d", FG_REDIS_IN_FLIGHT_MAX);
        return NULL;
    }
    if (o->backoff_min_ms < 1 || o->backoff_min_ms > o->backoff_max_ms
        || o->backoff_max_ms > FG_REDIS_BACKOFF_MAX_MS) {
        fg_err_set(err, FG_E_INVALID_VALUE, NULL, "Redis reconnect backoff "
                   "must be 1 <= min <= max <= %d ms",
                   FG_REDIS_BACKOFF_MAX_MS);
        return NULL;
    }
    r = fg_xcalloc(1, sizeof(*r));
    r->base = base;
    r->url = *url;
    r->o = *o;
    if (url->is_unix) {
        snprintf(r->where, sizeof(r->where), "%s", url->path);
    } else {
        snprintf(r->where, sizeof(r->where),
                 strchr(url->host, ':') != NULL ? "[%s]:%d" : "%s:%d",
                 url->host, url->port);
    }
    r->state = FG_REDIS_CONNECTING;
    r->backoff_ms = o->backoff_min_ms;
    r->rng = (uint64_t) fg_mono_ns() ^ ((uint64_t) getpid() << 32)
             ^ (uint64_t) (uintptr_t) r;
    if (r->rng == 0) {
        r->rng = 0x9e3779b97f4a7c15ULL;
    }
    r->attempt_ev = evtimer_new(base, redis_attempt, r);
    r->connect_ev = evtimer_new(base, redis_connect_timeout, r);
    r->command_ev = evtimer_new(base, redis_command_timeout, r);
    if (r->attempt_ev == NULL || r->connect_ev == NULL
        || r->command_ev == NULL) {
        fprintf(stderr, "fluxgate: out of memory (evtimer_new)\n");
        abort();
    }
    evtimer_add(r->attempt_ev, &now);
    return r;
}

int
fg_redis_command(fg_redis_t *r, fg_redis_reply_cb cb, void *arg, int argc,
                 const char *const *argv, const size_t *argvlen)
{
    char         buf[160];
    const char  *why = redis_refusal(r, argc, argv, argvlen, buf,
                                     sizeof(buf));
    redis_cmd_t *cmd;

    if (why == NULL) {
        cmd = fg_xcalloc(1, sizeof(*cmd));
        cmd->cb = cb;
        cmd->arg = arg;
        cmd->deadline_ms = fg_mono_ms() + r->o.command_timeout_ms;
        /* hiredis copies the arguments into its output buffer here. */
        if (redisAsyncCommandArgv(r->ac, redis_on_reply, cmd, argc,
                                  (const char **) argv, argvlen)
            != REDIS_OK) {
            free(cmd);
            why = "hiredis did not take the command (connection closing)";
        } else {
            cmd->prev = r->tail;
            if (r->tail != NULL) {
                r->tail->next = cmd;
            } else {
                r->head = cmd;
                redis_arm_command_timer(r);
            }
            r->tail = cmd;
            r->in_flight++;
            return FG_OK;
        }
    }
    /* Counted as an entry like every other callback, so that
     * fg_redis_free() from inside it behaves as it does anywhere. */
    redis_enter(r);
    cb(r, FG_REDIS_REFUSED, NULL, why, arg);
    redis_leave(r);
    return FG_ERR;
}

void
fg_redis_free(fg_redis_t *r)
{
    if (r == NULL || r->is_freeing) {
        return;
    }
    r->is_freeing = 1;
    redis_enter(r);
    evtimer_del(r->attempt_ev);
    evtimer_del(r->connect_ev);
    evtimer_del(r->command_ev);
    redis_detach(r, 0);
    redis_fail_pending(r, 0, "the connection was freed");
    redis_leave(r);
}

fg_redis_state_t
fg_redis_state(const fg_redis_t *r)
{
    return r->state;
}

const char *
fg_redis_reason(const fg_redis_t *r)
{
    return r->state == FG_REDIS_DOWN ? r->reason : "";
}

fg_redis_durability_t
fg_redis_durability(const fg_redis_t *r, const char **detail)
{
    if (detail != NULL) {
        *detail = r->durability_detail;
    }
    return r->durability;
}

int64_t
fg_redis_in_flight(const fg_redis_t *r)
{
    return r->in_flight;
}

const char *
fg_redis_state_name(fg_redis_state_t state)
{
    switch (state) {
    case FG_REDIS_CONNECTING:
        return "connecting";
    case FG_REDIS_READY:
        return "ready";
    case FG_REDIS_DOWN:
        return "down";
    }
    return "unknown";
}

const char *
fg_redis_result_name(fg_redis_result_t result)
{
    switch (result) {
    case FG_REDIS_OK:
        return "ok";
    case FG_REDIS_ERROR_REPLY:
        return "error reply";
    case FG_REDIS_TIMEOUT:
        return "timeout";
    case FG_REDIS_DISCONNECTED:
        return "disconnected";
    case FG_REDIS_REFUSED:
        return "refused";
    }
    return "unknown";
}

/* ---- the object's life across callbacks ------------------------------- */

static void
redis_enter(fg_redis_t *r)
{
    r->depth++;
}

/* Returns 1 when @r was released: the caller must not touch it again. */
static int
redis_leave(fg_redis_t *r)
{
    if (--r->depth == 0 && r->is_freeing) {
        redis_release(r);
        return 1;
    }
    return 0;
}

static void
redis_release(fg_redis_t *r)
{
    event_free(r->attempt_ev);
    event_free(r->connect_ev);
    event_free(r->command_ev);
    explicit_bzero(&r->url, sizeof(r->url));
    free(r);
}

/* ---- states, reasons, the end of a connection ------------------------- */

static void
redis_set_state(fg_redis_t *r, fg_redis_state_t state, const char *reason)
{
    r->state = state;
    if (r->o.on_state != NULL && !r->is_freeing) {
        r->o.on_state(r, state, state == FG_REDIS_DOWN ? reason : NULL,
                      r->o.state_arg);
    }
}

/*
 * Sets the reason DOWN will give. The text may carry what Redis said;
 * Redis does not echo AUTH's arguments, but should a password appear, it
 * is masked, so no reason can ever show it.
 */
static void
redis_set_reason(fg_redis_t *r, const char *fmt, ...)
{
    va_list ap;
    char   *p = r->reason;
    size_t  n = strlen(r->url.password);

    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
    va_end(ap);
    while (n > 0 && (p = strstr(p, r->url.password)) != NULL) {
        memset(p, '*', n);
        p += n;
    }
}

/*
 * Lets go of hiredis's context. With @hiredis_frees (from its cleanup
 * hook), hiredis frees it itself right after;
 * otherwise redisAsyncFree() frees it, at once or, inside a reply
 * callback, when that callback returns. Either way every later call
 * hiredis makes on it finds ac->data NULL and returns.
 */
static void
redis_detach(fg_redis_t *r, int hiredis_frees)
{
    redisAsyncContext *ac = r->ac;

    evtimer_del(r->connect_ev);
    evtimer_del(r->command_ev);
    if (ac == NULL) {
        return;
    }
    r->ac = NULL;
    ac->data = NULL;
    if (!hiredis_frees) {
        redisAsyncFree(ac);
    }
}

/*
 * Runs every pending command's callback, oldest first: FG_REDIS_TIMEOUT
 * for those past their deadline when @may_time_out, FG_REDIS_DISCONNECTED
 * for the others. The list is taken whole first, so a callback that sends
 * (refused: the state is no longer READY) or frees cannot disturb it.
 */
static void
redis_fail_pending(fg_redis_t *r, int may_time_out, const char *detail)
{
    redis_cmd_t *cmd = r->head, *next;
    int64_t      now_ms = fg_mono_ms();
    char         why[RD_REASON_MAX + 64];

    r->head = r->tail = NULL;
    r->in_flight = 0;
    snprintf(why, sizeof(why), "%s", detail);
    for (; cmd != NULL; cmd = next) {
        next = cmd->next;
        if (may_time_out && cmd->deadline_ms <= now_ms) {
            char late[64];

            snprintf(late, sizeof(late), "no reply within %lld ms",
                     (long long) r->o.command_timeout_ms);
            cmd->cb(r, FG_REDIS_TIMEOUT, NULL, late, cmd->arg);
        } else {
            cmd->cb(r, FG_REDIS_DISCONNECTED, NULL, why, cmd->arg);
        }
        free(cmd);
    }
}

/*
 * The attempt or the connection ended, r->reason saying why: detach,
 * DOWN, fail what is pending, tell, then schedule the next attempt.
 * Called from inside an entry (r->depth > 0), so @r outlives it.
 */
static void
redis_down(fg_redis_t *r, int hiredis_frees, int timed_out)
{
    struct timeval tv;
    int64_t        delay_ms;

    redis_detach(r, hiredis_frees);
    r->is_connected = 0;
    r->state = FG_REDIS_DOWN;
    r->durability = FG_REDIS_DURABILITY_UNKNOWN;
    r->durability_detail[0] = '\0';
    redis_fail_pending(r, timed_out, r->reason);
    if (r->is_freeing) {
        return;
    }
    redis_set_state(r, FG_REDIS_DOWN, r->reason);
    if (r->is_freeing) {
        return;
    }
    delay_ms = redis_next_delay(r);
    tv.tv_sec = delay_ms / 1000;
    tv.tv_usec = (delay_ms % 1000) * 1000;
    evtimer_add(r->attempt_ev, &tv);
}

static void
redis_arm_command_timer(fg_redis_t *r)
{
    struct timeval tv;
    int64_t        left_ms;

    if (r->head == NULL) {
        evtimer_del(r->command_ev);
        return;
    }
    left_ms = r->head->deadline_ms - fg_mono_ms();
    if (left_ms < 0) {
        left_ms = 0;
    }
    tv.tv_sec = left_ms / 1000;
    tv.tv_usec = (left_ms % 1000) * 1000;
    evtimer_add(r->command_ev, &tv);
}

/*
 * The delay before the next attempt, uniform in [d/2, d], and d doubled
 * for the one after (capped): a fleet of syncers that lost one Redis does
 * not come back in step.
 */
static int64_t
redis_next_delay(fg_redis_t *r)
{
    int64_t d = r->backoff_ms, half = d / 2;

    r->rng ^= r->rng << 13;
    r->rng ^= r->rng >> 7;
    r->rng ^= r->rng << 17;
    r->backoff_ms = d > r->o.backoff_max_ms / 2 ? r->o.backoff_max_ms
                                                 : d * 2;
    return half + (int64_t) (r->rng % (uint64_t) (d - half + 1));
}

/* ---- an attempt ------------------------------------------------------- */

static void
redis_attempt(evutil_socket_t fd, short what, void *arg)
{
    fg_redis_t        *r = arg;
    redisAsyncContext *ac;
    struct timeval     tv;

    (void) fd;
    (void) what;
    redis_enter(r);
    if (r->state != FG_REDIS_CONNECTING) {
        redis_set_state(r, FG_REDIS_CONNECTING, NULL);
        if (r->is_freeing) {
            redis_leave(r);
            return;
        }
    }
    r->appendonly[0] = r->appendfsync[0] = r->config_err[0] = '\0';
    ac = r->url.is_unix ? redisAsyncConnectUnix(r->url.path)
                        : redisAsyncConnect(r->url.host, r->url.port);
    if (ac == NULL) {
        redis_set_reason(r, "connect to %s: out of memory", r->where);
        redis_down(r, 1, 0);
        redis_leave(r);
        return;
    }
    if (ac->err != 0) {
        redis_set_reason(r, "connect to %s: %s", r->where, ac->errstr);
        redisAsyncFree(ac);
        redis_down(r, 1, 0);
        redis_leave(r);
        return;
    }
    ac->data = r;
    r->ac = ac;
    if (redisLibeventAttach(ac, r->base) != REDIS_OK) {
        redis_set_reason(r, "connect to %s: hiredis could not attach to "
                         "the event loop", r->where);
        redis_down(r, 0, 0);
        redis_leave(r);
        return;
    }
    /* Every free of the context, whoever starts it, goes through the
     * adapter's cleanup: the one place to hear that hiredis let go. */
    ac->ev.cleanup = redis_on_cleanup;
    if (redisAsyncSetConnectCallback(ac, redis_on_connect) != REDIS_OK
        || redis_send_handshake(r) != FG_OK) {
        redis_set_reason(r, "connect to %s: hiredis could not set up the "
                         "connection", r->where);
        redis_down(r, 0, 0);
        redis_leave(r);
        return;
    }
    tv.tv_sec = r->o.connect_timeout_ms / 1000;
    tv.tv_usec = (r->o.connect_timeout_ms % 1000) * 1000;
    evtimer_add(r->connect_ev, &tv);
    redis_leave(r);
}

static void
redis_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
    fg_redis_t *r = arg;

    (void) fd;
    (void) what;
    redis_enter(r);
    if (r->is_connected) {
        redis_set_reason(r, "%s: no answer to the handshake within %lld ms",
                         r->where, (long long) r->o.connect_timeout_ms);
    } else {
        redis_set_reason(r, "connect to %s: timed out after %lld ms",
                         r->where, (long long) r->o.connect_timeout_ms);
    }
    redis_down(r, 0, 0);
    redis_leave(r);
}

static void
redis_command_timeout(evutil_socket_t fd, short what, void *arg)
{
    fg_redis_t *r = arg;

    (void) fd;
    (void) what;
    redis_enter(r);
    if (r->head != NULL && r->head->deadline_ms > fg_mono_ms()) {
        /* Early by the timer's rounding: wait out the rest. */
        redis_arm_command_timer(r);
    } else if (r->head != NULL) {
        redis_set_reason(r, "%s: a command had no reply within %lld ms; "
                         "the connection is closed, as later replies could "
                         "no longer be matched with certainty", r->where,
                         (long long) r->o.command_timeout_ms);
        redis_down(r, 0, 1);
    }
    redis_leave(r);
}

/*
 * Pipelines the handshake behind the connect: hiredis writes it once the
 * socket is writable. Returns FG_OK, or FG_ERR when hiredis refused a
 * command.
 */
static int
redis_send_handshake(fg_redis_t *r)
{
    const fg_redisurl_t *u = &r->url;
    char                 db[16];
    int                  rc = REDIS_OK;

    if (u->password[0] != '\0' && u->user[0] != '\0') {
        const char *argv[] = { "AUTH", u->user, u->password };

        rc = redisAsyncCommandArgv(r->ac, redis_on_handshake,
                                   (void *) (intptr_t) RD_HS_AUTH, 3, argv,
                                   NULL);
    } else if (u->password[0] != '\0') {
        const char *argv[] = { "AUTH", u->password };

        rc = redisAsyncCommandArgv(r->ac, redis_on_handshake,
                                   (void *) (intptr_t) RD_HS_AUTH, 2, argv,
                                   NULL);
    }
    if (rc == REDIS_OK && u->db != 0) {
        const char *argv[] = { "SELECT", db };

        snprintf(db, sizeof(db), "%d", u->db);
        rc = redisAsyncCommandArgv(r->ac, redis_on_handshake,
                                   (void *) (intptr_t) RD_HS_SELECT, 2, argv,
                                   NULL);
    }
    if (rc == REDIS_OK) {
        const char *argv[] = { "CONFIG", "GET", "appendonly" };

        rc = redisAsyncCommandArgv(r->ac, redis_on_handshake,
                                   (void *) (intptr_t) RD_HS_APPENDONLY, 3,
                                   argv, NULL);
    }
    if (rc == REDIS_OK) {
        const char *argv[] = { "CONFIG", "GET", "appendfsync" };

        rc = redisAsyncCommandArgv(r->ac, redis_on_handshake,
                                   (void *) (intptr_t) RD_HS_APPENDFSYNC, 3,
                                   argv, NULL);
    }
    return rc == REDIS_OK ? FG_OK : FG_ERR;
}

/*
 * connect(2) finished. On failure hiredis frees the context as this
 * returns (redis_on_cleanup() hears it); on success it goes on using it.
 * Nothing here may free it.
 */
static void
redis_on_connect(const redisAsyncContext *ac, int status)
{
    fg_redis_t *r = ac->data;

    if (r != NULL && status == REDIS_OK) {
        r->is_connected = 1;
    }
}

/*
 * The adapter's cleanup, run by hiredis whenever it frees the context. On
 * a context still attached, hiredis is freeing it on its own (a failed
 * connect, a closed or broken socket, a read error, an error Redis sent
 * unasked): the connection is lost. hiredis has already run the reply
 * callbacks (with NULL) and frees the context right after this returns,
 * so the context is only detached here, never freed.
 */
static void
redis_on_cleanup(void *privdata)
{
    redisLibeventEvents *e = privdata;
    redisAsyncContext   *ac = e->context;
    fg_redis_t          *r = ac->data;

    redisLibeventCleanup(privdata);
    if (r == NULL) {
        return;
    }
    redis_enter(r);
    if (r->is_connected) {
        redis_set_reason(r, "%s: connection lost: %s", r->where,
                         ac->err != 0 ? ac->errstr : "closed");
    } else {
        redis_set_reason(r, "connect to %s: %s", r->where,
                         ac->err != 0 ? ac->errstr : "failed");
    }
    redis_down(r, 1, 0);
    redis_leave(r);
}

static void
redis_on_handshake(redisAsyncContext *ac, void *reply, void *privdata)
{
    fg_redis_t       *r = ac->data;
    const redisReply *rep = reply;
    redis_hs_step_t   step = (redis_hs_step_t) (intptr_t) privdata;

    if (r == NULL || rep == NULL) {
        return;
    }
    redis_enter(r);
    switch (step) {
    case RD_HS_AUTH:
        if (rep->type == REDIS_REPLY_ERROR) {
            redis_set_reason(r, "%s: AUTH%s refused: %s", r->where,
                             r->url.user[0] != '\0' ? " (ACL user)" : "",
                             rep->str);
            redis_down(r, 0, 0);
        }
        break;
    case RD_HS_SELECT:
        if (rep->type == REDIS_REPLY_ERROR) {
            redis_set_reason(r, "%s: SELECT %d refused: %s", r->where,
                             r->url.db, rep->str);
            redis_down(r, 0, 0);
        }
        break;
    case RD_HS_APPENDONLY:
        if (redis_handshake_config(r, rep, "appendonly", r->appendonly,
                                   sizeof(r->appendonly)) != FG_OK) {
            redis_down(r, 0, 0);
        }
        break;
    case RD_HS_APPENDFSYNC:
        if (redis_handshake_config(r, rep, "appendfsync", r->appendfsync,
                                   sizeof(r->appendfsync)) != FG_OK) {
            redis_down(r, 0, 0);
        } else {
            redis_ready(r);
        }
        break;
    }
    redis_leave(r);
}

/*
 * One CONFIG GET answer into @value. An error that means the connection
 * cannot be used (NOAUTH: a password is needed; LOADING: Redis is still
 * reading its data) ends the attempt: FG_ERR with the reason set. Any
 * other refusal (the command renamed away, an ACL user without the
 * right) leaves durability unverifiable: FG_OK with r->config_err set.
 */
static int
redis_handshake_config(fg_redis_t *r, const redisReply *reply,
                       const char *name, char *value, size_t size)
{
    if (reply->type == REDIS_REPLY_ERROR) {
        if (strncmp(reply->str, "NOAUTH", 6) == 0) {
            redis_set_reason(r, "%s: Redis wants a password and the URL "
                             "has none (%s)", r->where, reply->str);
            return FG_ERR;
        }
        if (strncmp(reply->str, "LOADING", 7) == 0) {
            redis_set_reason(r, "%s: Redis is loading its data (%s)",
                             r->where, reply->str);
            return FG_ERR;
        }
        if (r->config_err[0] == '\0') {
            snprintf(r->config_err, sizeof(r->config_err),
                     "CONFIG GET %s refused: %s", name, reply->str);
        }
        return FG_OK;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2
        || reply->element[1]->type != REDIS_REPLY_STRING) {
        if (r->config_err[0] == '\0') {
            snprintf(r->config_err, sizeof(r->config_err),
                     "CONFIG GET %s gave no value", name);
        }
        return FG_OK;
    }
    snprintf(value, size, "%s", reply->element[1]->str);
    return FG_OK;
}

/* The last handshake reply is in: READY, the attempt's timer off. */
static void
redis_ready(fg_redis_t *r)
{
    evtimer_del(r->connect_ev);
    if (r->config_err[0] != '\0') {
        r->durability = FG_REDIS_UNVERIFIABLE;
        snprintf(r->durability_detail, sizeof(r->durability_detail), "%s",
                 r->config_err);
    } else {
        r->durability = strcmp(r->appendonly, "yes") == 0
                        && strcmp(r->appendfsync, "always") == 0
                        ? FG_REDIS_DURABLE : FG_REDIS_NOT_DURABLE;
        snprintf(r->durability_detail, sizeof(r->durability_detail),
                 "appendonly %s, appendfsync %s", r->appendonly,
                 r->appendfsync);
    }
    r->backoff_ms = r->o.backoff_min_ms;
    r->reason[0] = '\0';
    redis_set_state(r, FG_REDIS_READY, NULL);
}

/* ---- commands --------------------------------------------------------- */

static void
redis_on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    fg_redis_t       *r = ac->data;
    const redisReply *rep = reply;
    redis_cmd_t      *cmd = privdata;
    int               was_head;

    /* A NULL reply is hiredis freeing the context: the list answers for
     * the command (and @cmd may be gone already). */
    if (r == NULL || rep == NULL) {
        return;
    }
    redis_enter(r);
    was_head = cmd == r->head;
    if (cmd->prev != NULL) {
        cmd->prev->next = cmd->next;
    } else {
        r->head = cmd->next;
    }
    if (cmd->next != NULL) {
        cmd->next->prev = cmd->prev;
    } else {
        r->tail = cmd->prev;
    }
    r->in_flight--;
    if (was_head) {
        redis_arm_command_timer(r);
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        cmd->cb(r, FG_REDIS_ERROR_REPLY, rep, rep->str, cmd->arg);
    } else {
        cmd->cb(r, FG_REDIS_OK, rep, NULL, cmd->arg);
    }
    free(cmd);
    redis_leave(r);
}

/*
 * Why a command cannot be sent, or NULL when it can. The commands refused
 * by name would break the pairing of one reply per command, or change the
 * login or the database under the connection's feet.
 */
static const char *
redis_refusal(const fg_redis_t *r, int argc, const char *const *argv,
              const size_t *argvlen, char *buf, size_t size)
{
    static const char *const banned[] = {
        "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE",
        "PUNSUBSCRIBE", "SUNSUBSCRIBE", "MONITOR", "AUTH", "HELLO",
        "SELECT", "RESET", "QUIT"
    };
    size_t n, i;

    if (r->is_freeing) {
        return "the connection is being freed";
    }
    if (r->state != FG_REDIS_READY || r->ac == NULL) {
        snprintf(buf, size, "Redis is not ready (%s)",
                 fg_redis_state_name(r->state));
        return buf;
    }
    if (r->in_flight >= r->o.max_in_flight) {
        snprintf(buf, size, "%lld commands are in flight (max_in_flight)",
                 (long long) r->in_flight);
        return buf;
    }
    if (argc < 1 || argv == NULL || argv[0] == NULL) {
        return "no command";
    }
    n = argvlen != NULL ? argvlen[0] : strlen(argv[0]);
    for (i = 0; i < sizeof(banned) / sizeof(banned[0]); i++) {
        if (n == strlen(banned[i])
            && strncasecmp(argv[0], banned[i], n) == 0) {
            snprintf(buf, size, "%s is not taken on this connection",
                     banned[i]);
            return buf;
        }
    }
    if (n == 6 && strncasecmp(argv[0], "CLIENT", 6) == 0 && argc >= 2
        && (argvlen != NULL ? argvlen[1] : strlen(argv[1])) == 5
        && strncasecmp(argv[1], "REPLY", 5) == 0) {
        return "CLIENT REPLY is not taken on this connection";
    }
    return NULL;
}
