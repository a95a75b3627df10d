#ifndef FG_COMMON_REDIS_H
#define FG_COMMON_REDIS_H

/*
 * One asynchronous connection to the cluster's Redis, on a libevent base:
 * hiredis's async API through its libevent adapter, with what hiredis
 * 0.14 lacks (timeouts, reconnection, a bound on queued commands) around
 * it. Only the syncer uses it; workers never touch the network.
 *
 * Connecting. Each attempt connects (TCP or unix socket), then pipelines
 * the handshake: AUTH (user and password, or password alone) when the URL
 * has a password, SELECT when its database is not 0, then CONFIG GET
 * appendonly and CONFIG GET appendfsync. The connection is READY when all
 * have answered; fg_redis_durability() then says whether Redis is durable
 * (appendonly yes and appendfsync always), not durable, or not verifiable
 * (CONFIG refused: renamed, or an ACL user without the right). The
 * connection is READY in all three cases: the caller decides what to
 * accept. connect_timeout_ms bounds an attempt from connect(2) to READY;
 * a failed AUTH or SELECT, a NOAUTH or LOADING answer, a closed socket or
 * the timeout ends the attempt, and the state is DOWN with a reason.
 *
 * Reconnecting. From DOWN the next attempt starts after a delay drawn
 * uniformly from [d/2, d], where d starts at backoff_min_ms, doubles with
 * each failed attempt up to backoff_max_ms, and returns to backoff_min_ms
 * once an attempt reaches READY. Attempts never stop while the object
 * lives; each is bounded by connect_timeout_ms, so the rate is bounded.
 * Host names are resolved by hiredis with a blocking getaddrinfo(3) at
 * each attempt: give an address, or a name /etc/hosts answers.
 *
 * Commands. Accepted only when READY, and only while fewer than
 * max_in_flight commands are queued or awaiting their reply; any other is
 * refused at once. Every command's callback runs exactly once: with the
 * reply, Redis's error reply, a timeout, the connection's loss, or the
 * refusal. A command without its reply command_timeout_ms after it was
 * queued times out, and with it the connection: after a timeout, replies
 * can no longer be matched to commands with certainty, so the connection
 * is closed, every command still pending fails (FG_REDIS_TIMEOUT for
 * those past their deadline, FG_REDIS_DISCONNECTED for the others), the
 * state goes DOWN and reconnection starts. A command that failed either
 * way may or may not have been executed by Redis: the caller must make a
 * resend safe (the syncer numbers its report batches for this).
 *
 * Blocking commands (BLPOP, XREAD BLOCK, WAIT...) would hit the command
 * timeout and are not for this connection. Commands that would break the
 * one-reply-per-command pairing or the connection's login and database
 * ((P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, MONITOR, CLIENT REPLY, AUTH, HELLO,
 * SELECT, RESET, QUIT) are refused.
 *
 * Order of callbacks when a connection ends: the state is DOWN first (a
 * command sent from a callback is refused), then each pending command's
 * callback in the order they were sent, then the state callback.
 *
 * Single-threaded: every call is made on the thread running the base.
 * Any callback may call any function here, fg_redis_free() included (see
 * there).
 *
 * Ownership: fg_redis_new() returns an object freed with fg_redis_free().
 * The URL and options are copied. A reply is hiredis's, borrowed for the
 * callback only: copy what must outlive it.
 */

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "common/base/errors.h"
#include "common/cluster/redisurl.h"

struct event_base;

typedef struct fg_redis_s fg_redis_t;

typedef enum {
    FG_REDIS_CONNECTING = 0,   /* an attempt is under way */
    FG_REDIS_READY,            /* handshake done; commands accepted */
    FG_REDIS_DOWN              /* waiting for the next attempt */
} fg_redis_state_t;

typedef enum {
    FG_REDIS_DURABILITY_UNKNOWN = 0,   /* never READY yet */
    FG_REDIS_DURABLE,                  /* appendonly yes, appendfsync always */
    FG_REDIS_NOT_DURABLE,              /* anything else */
    FG_REDIS_UNVERIFIABLE              /* CONFIG GET refused */
} fg_redis_durability_t;

/* How a command ended. */
typedef enum {
    FG_REDIS_OK = 0,        /* @reply is Redis's answer (not an error) */
    FG_REDIS_ERROR_REPLY,   /* Redis answered an error; @reply holds it */
    FG_REDIS_TIMEOUT,       /* no reply within command_timeout_ms */
    FG_REDIS_DISCONNECTED,  /* the connection ended first, or was freed */
    FG_REDIS_REFUSED        /* never sent: not READY, queue full, or a
                             * command this connection does not take */
} fg_redis_result_t;

/*
 * A command's end. @reply is set for FG_REDIS_OK and FG_REDIS_ERROR_REPLY
 * (borrowed for this call), NULL otherwise. @detail says why for every
 * result but FG_REDIS_OK (NULL then): the error reply's text, or a
 * sentence; borrowed for this call.
 */
typedef void (*fg_redis_reply_cb)(fg_redis_t *r, fg_redis_result_t result,
                                  const redisReply *reply,
                                  const char *detail, void *arg);

/*
 * The state changed to @state. @reason says why for FG_REDIS_DOWN (never
 * quoting the password), NULL otherwise; borrowed for this call.
 */
typedef void (*fg_redis_state_cb)(fg_redis_t *r, fg_redis_state_t state,
                                  const char *reason, void *arg);

typedef struct {
    int64_t           connect_timeout_ms;   /* connect(2) to READY */
    int64_t           command_timeout_ms;   /* queued to replied */
    int64_t           max_in_flight;        /* commands queued or sent */
    int64_t           backoff_min_ms;       /* first retry delay */
    int64_t           backoff_max_ms;       /* retry delay cap */
    fg_redis_state_cb on_state;             /* NULL: not told */
    void             *state_arg;
} fg_redis_options_t;

/* Bounds fg_redis_new() checks. */
#define FG_REDIS_TIMEOUT_MAX_MS      600000
#define FG_REDIS_BACKOFF_MAX_MS      3600000
#define FG_REDIS_IN_FLIGHT_MAX       1000000

/*
 * Fills @o with the defaults: connect and command timeouts 2000 ms,
 * max_in_flight 1024, backoff 100 to 5000 ms, no state callback.
 */
void fg_redis_options_init(fg_redis_options_t *o);

/*
 * A connection to @url on @base (borrowed; must outlive the object),
 * with @options. The first attempt starts from the loop, not inside this
 * call, so no callback runs before it returns; the state is
 * FG_REDIS_CONNECTING until then. Returns an owned object, or NULL with
 * @err set (FG_E_INVALID_VALUE) when an option is out of range
 * (timeouts 1 to FG_REDIS_TIMEOUT_MAX_MS, max_in_flight 1 to
 * FG_REDIS_IN_FLIGHT_MAX, backoff 1 <= min <= max <=
 * FG_REDIS_BACKOFF_MAX_MS). Aborts on out of memory.
 */
fg_redis_t *fg_redis_new(struct event_base *base, const fg_redisurl_t *url,
                         const fg_redis_options_t *options, fg_err_t *err);

/*
 * Sends the command @argv[0..@argc) (binary-safe: @argvlen gives each
 * argument's length; NULL means each is a NUL-terminated string). The
 * arguments are copied before this returns. @cb runs exactly once, with
 * @arg.
 *
 * Returns FG_OK when the command is queued: @cb runs later, from the
 * loop or from a call that ends the connection (fg_redis_free()), never
 * from inside this call. Returns FG_ERR when it is refused (not READY,
 * max_in_flight reached, @argc < 1, or a command listed above): @cb has
 * then already run, with FG_REDIS_REFUSED, before this returned, so the
 * caller must not touch what @cb frees.
 */
int fg_redis_command(fg_redis_t *r, fg_redis_reply_cb cb, void *arg,
                     int argc, const char *const *argv,
                     const size_t *argvlen);

/*
 * Closes the connection and frees @r. Every pending command's callback
 * runs, with FG_REDIS_DISCONNECTED, before this returns; the state
 * callback does not. Safe from inside any callback of @r (the memory is
 * released when that callback returns; @r must not be used after this
 * call either way). NULL is accepted; a second call from a callback that
 * runs during the first is ignored.
 */
void fg_redis_free(fg_redis_t *r);

/* The state now, and for FG_REDIS_DOWN its reason (borrowed until the next
 * state change; "" otherwise). */
fg_redis_state_t fg_redis_state(const fg_redis_t *r);
const char *fg_redis_reason(const fg_redis_t *r);

/*
 * While READY, what this connection's handshake found; otherwise
 * FG_REDIS_DURABILITY_UNKNOWN. @detail (may be NULL) is set to a sentence
 * ("appendonly yes, appendfsync everysec", or why CONFIG GET failed; ""
 * when unknown), borrowed until the state changes.
 */
fg_redis_durability_t fg_redis_durability(const fg_redis_t *r,
                                          const char **detail);

/* Commands queued or awaiting their reply now. */
int64_t fg_redis_in_flight(const fg_redis_t *r);

/* Static names for logs: "connecting", "ready", "down"; "ok", "timeout"... */
const char *fg_redis_state_name(fg_redis_state_t state);
const char *fg_redis_result_name(fg_redis_result_t result);

#endif
