#ifndef FG_ROUTE_HEALTH_H
#define FG_ROUTE_HEALTH_H

/*
 * The endpoints' health, shared by every worker of a node: a fixed-
 * capacity table in shared memory (common/base/shm.h), one entry per
 * endpoint keyed by (provider id, the provider's model id), capacity
 * routing.max_endpoints. The master binds the catalog's endpoints to
 * entries before it forks the workers (fg_health_bind); a reload binds the
 * new catalog's and an entry whose key is still served keeps its figures,
 * so a SIGHUP forgets nothing. An entry is never freed: a table that is
 * full binds no more (the endpoint is then routed without health, and
 * fluxgate -t / the reload log say so).
 *
 * Per entry, from real traffic (docs/routing.md, "Health"):
 *   - EWMA of the time to first token (ms) and of output tokens per
 *     second, weight FG_HEALTH_EWMA_WEIGHT per sample, 0 until measured;
 *   - successes and failures, total and in the current window;
 *   - attempts by outcome (common/wire/attempt.h) and failovers away from
 *     it, for /metrics;
 *   - a circuit breaker:
 *       closed     every request may go;
 *       open       after conf.failures consecutive failures, or an error
 *                  rate of conf.error_rate_percent or more over at least
 *                  conf.min_requests attempts in the window: no request
 *                  goes until conf.open_ms have passed;
 *       half-open  after that: exactly one request (the probe, claimed by
 *                  fg_health_begin) goes; its success closes the circuit,
 *                  its failure opens it again for conf.open_ms;
 *   - a cool-down: a provider's 429 with Retry-After keeps requests away
 *     from the endpoint until then (the circuit is not opened by it).
 *
 * Every call is lock-free: plain atomics and CAS on 64-bit words, no
 * syscalls, so a worker that dies mid-call leaves no lock behind. The
 * clock is the caller's (@now_ms, monotonic: fg_mono_ms()), so the state
 * machine is tested with a fake one. Figures are best-effort under
 * concurrent updates (an EWMA sample may be lost to a racing one); the
 * circuit's transitions are exact.
 */

#include <stddef.h>
#include <stdint.h>

#include "common/base/conf.h"
#include "common/wire/attempt.h"

/* Longest provider id and provider model id a key holds (longer ones are
 * cut: two ids that differ only beyond this share an entry). */
#define FG_HEALTH_ID_MAX       96

/* Bytes of a country code in the listing (fg_health_row_t), NUL
 * included: "FR", "US-CA", "WORLD". */
#define FG_HEALTH_COUNTRY_MAX  12

/* Weight of a new sample in the EWMAs. */
#define FG_HEALTH_EWMA_WEIGHT  0.2

typedef struct fg_health_s fg_health_t;   /* in shared memory */

typedef enum {
    FG_CIRCUIT_CLOSED = 0,
    FG_CIRCUIT_OPEN,
    FG_CIRCUIT_HALF_OPEN
} fg_circuit_t;

/* The thresholds, from the configuration (routing.circuit.*). */
typedef struct {
    int64_t failures;            /* consecutive failures that open it */
    int64_t error_rate_percent;  /* 1-100: window error rate that opens */
    int64_t min_requests;        /* attempts in the window before the
                                    rate counts */
    int64_t window_ms;           /* the error-rate window */
    int64_t open_ms;             /* open before half-open */
} fg_health_conf_t;

/* One entry as read at one moment (fg_health_read). */
typedef struct {
    char         provider[FG_HEALTH_ID_MAX];
    char         model[FG_HEALTH_ID_MAX];
    fg_circuit_t state;          /* as of now_ms: an open circuit whose
                                    cool-down ended reads half-open */
    int64_t      retry_at_ms;    /* open or cooling down: when a request
                                    may go again (monotonic); else 0 */
    double       ttft_ms;        /* EWMA; 0: not measured yet */
    double       tps;            /* EWMA; 0: not measured yet */
    uint64_t     successes;      /* since the node started */
    uint64_t     failures;
    uint64_t     window_attempts;    /* in the current window */
    uint64_t     window_failures;
    uint64_t     consecutive_failures;
    uint64_t     attempts[FG_ATTEMPT_OUTCOME_COUNT];   /* by outcome */
    uint64_t     failovers;      /* attempts here that moved on */
    uint64_t     opened;         /* times the circuit opened */
} fg_health_view_t;

/* One endpoint of the catalog the workers serve now, as the master
 * published it (fg_health_publish). */
typedef struct {
    int  slot;                            /* its entry */
    char model[FG_HEALTH_ID_MAX];         /* the public model id */
    char country[FG_HEALTH_COUNTRY_MAX];  /* where it runs; "": unknown */
} fg_health_row_t;

/* The thresholds of @conf (routing.circuit.*). */
fg_health_conf_t fg_health_conf_from(const fg_conf_t *conf);

/* Bytes of shared memory for a table of @capacity entries. */
size_t fg_health_size(size_t capacity);

/* Formats @mem (fg_health_size(capacity) bytes, zeroed or not) as an
 * empty table. Master, before the workers fork; never on a live one. */
fg_health_t *fg_health_init(void *mem, size_t capacity);

/* The table at @mem, formatted by fg_health_init(). */
fg_health_t *fg_health_at(void *mem);

size_t fg_health_capacity(const fg_health_t *h);

/* Entries bound so far. */
size_t fg_health_count(const fg_health_t *h);

/*
 * The slot of (@provider, @model): the existing one, or a new one.
 * Returns -1 when the table is full. Master only (single writer of the
 * keys); workers find slots in their catalog (fg_endpoint_t.health_slot).
 */
int fg_health_bind(fg_health_t *h, const char *provider, const char *model);

/*
 * 1 when a request may be sent to @slot now: closed, or half-open with
 * no probe claimed, and not cooling down. 0 otherwise, with *@retry_at_ms
 * (may be NULL) set to when it may (the end of the open period or of the
 * cool-down; for a half-open circuit whose probe is out, when the claim
 * expires: its time + open_ms, at most now + open_ms). A probe claimed
 * open_ms ago or more is deemed lost (its worker died) and may be
 * claimed again.
 * Reads only. A slot < 0 is always available.
 */
int fg_health_available(const fg_health_t *h, int slot,
                        const fg_health_conf_t *conf, int64_t now_ms,
                        int64_t *retry_at_ms);

/*
 * An attempt is about to go to @slot: 1 to send it, 0 when the endpoint
 * is no longer available (another worker took the half-open probe, or it
 * opened since the router looked). On a half-open circuit the caller that
 * gets 1 holds the probe and must end it with fg_health_end(). A slot < 0
 * always gets 1.
 */
int fg_health_begin(fg_health_t *h, int slot, const fg_health_conf_t *conf,
                    int64_t now_ms);

/*
 * The attempt begun at @slot ended: @is_success (a 2xx whose reply was
 * whole, or a stream that delivered its first event), the outcome for
 * the counters, and for a success the measured time to first token in
 * ms (< 0: none) and output tokens per second (< 0: none). A failure
 * counts toward the circuit only when @is_circuit_failure (a provider's
 * fault: not a 400 about the tenant's request, not a cancel). Releases
 * the probe of a half-open circuit. A slot < 0 is ignored.
 */
void fg_health_end(fg_health_t *h, int slot, const fg_health_conf_t *conf,
                   int64_t now_ms, fg_attempt_outcome_t outcome,
                   int is_success, int is_circuit_failure, double ttft_ms,
                   double tps);

/* The endpoint answered 429 with Retry-After: no request goes to it
 * before @until_ms (a later cool-down wins). */
void fg_health_cool(fg_health_t *h, int slot, int64_t until_ms);

/* An attempt at @slot failed and the request moved to another endpoint. */
void fg_health_failover(fg_health_t *h, int slot);

/* Fills @out with @slot's entry as of @now_ms. FG_OK, or FG_ERR for a
 * slot that is not bound. */
int fg_health_read(const fg_health_t *h, int slot,
                   const fg_health_conf_t *conf, int64_t now_ms,
                   fg_health_view_t *out);

/*
 * Publishes the endpoints of the catalog the next workers serve (@n rows,
 * copied; at most the table's capacity are kept), replacing the previous
 * list: what the admin API joins the table with, since the process that
 * serves it (the syncer) keeps no catalog. Master only, after binding.
 */
void fg_health_publish(fg_health_t *h, const fg_health_row_t *rows,
                       size_t n);

/*
 * A copy of the published list: FG_OK with *@rows (owned, free(); NULL
 * when *@n is 0), or FG_ERR when the master kept rewriting it while it
 * was copied (a reload under way: try again). Never blocks.
 */
int fg_health_rows(const fg_health_t *h, fg_health_row_t **rows,
                   size_t *n);

/*
 * The two moving averages of @slot alone, for ordering on every request
 * (fg_health_read copies the whole entry): *@ttft_ms and *@tps, 0 when
 * not measured. FG_OK, or FG_ERR for a slot that is not bound.
 */
int fg_health_speed(const fg_health_t *h, int slot, double *ttft_ms,
                    double *tps);

/* The state's name ("closed", "open", "half_open"). Static storage. */
const char *fg_circuit_name(fg_circuit_t state);

#endif
