/*
 * health.c: the endpoints' health table (see health.h).
 *
 * Layout, all in the shm arena at fixed offsets from the table:
 *
 *   the table's header      one cache line;
 *   entries[capacity]       one per endpoint key, in bind order;
 *   index[index_slots]      open-addressed hash of the keys (slot + 1; 0
 *                           empty), at least twice the capacity so a
 *                           probe always ends; the master's alone;
 *   rows[capacity]          the published catalog listing (seqlock).
 *
 * Keys are written by the master alone, before it raises the count with
 * a release store: a reader that sees slot < count sees its whole key.
 *
 * An entry's circuit is one 64-bit word, changed only by CAS:
 *
 *   bits 0-1    stored state: closed or open (half-open is an open
 *               circuit whose period ended, or whose probe is out);
 *   bit  2      the half-open probe is out;
 *   bits 3-22   consecutive circuit failures (saturating);
 *   bits 23-63  a monotonic ms time: open without probe, the end of the
 *               open period; open with the probe out, when the probe was
 *               claimed. 41 bits of ms are 69 years of uptime.
 *
 * Holding the time in the word, not beside it, means no reader can see
 * an open state with the previous period's end, and a claim and its time
 * are one CAS. A claim older than open_ms is deemed lost (a worker died
 * holding it) and may be taken again, so a dead prober cannot leave the
 * circuit half-open for good.
 *
 * The error-rate window: two buckets (the window index's parity), each a
 * word of window index (22 bits), attempts and failures (21 bits each,
 * saturating), reset by the first update of a new window. The rate is
 * over a sliding window: the current bucket plus the previous one
 * weighted by the part of it still within window_ms of now. Attempts
 * there are successes and circuit failures only: an attempt that failed
 * through no fault of the provider (a cancel, the tenant's 400) says
 * nothing of its health, and shows only in the counts by outcome. The
 * successes and failures totals follow the same rule.
 */

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/alloc.h"
#include "common/base/errors.h"
#include "common/route/health.h"

#define HL_OPEN          1ULL
#define HL_STATE_MASK    3ULL
#define HL_PROBE         (1ULL << 2)
#define HL_FAILS_SHIFT   3
#define HL_FAILS_MAX     ((1ULL << 20) - 1)
#define HL_TIME_SHIFT    23
#define HL_TIME_MAX      ((int64_t) ((1ULL << 41) - 1))

#define HL_WIN_INDEX_BITS  22
#define HL_WIN_COUNT_BITS  21
#define HL_WIN_INDEX_MASK  ((1ULL << HL_WIN_INDEX_BITS) - 1)
#define HL_WIN_COUNT_MAX   ((1ULL << HL_WIN_COUNT_BITS) - 1)

/* Copies of the listing that may race the master before giving up. */
#define HL_ROWS_TRIES    8

typedef struct {
    char             provider[FG_HEALTH_ID_MAX];
    char             model[FG_HEALTH_ID_MAX];
    _Atomic uint64_t circuit;
    _Atomic int64_t  cool_until_ms;
    _Atomic uint64_t ttft_bits;          /* a double's bits; 0: none */
    _Atomic uint64_t tps_bits;
    _Atomic uint64_t successes;
    _Atomic uint64_t failures;
    _Atomic uint64_t failovers;
    _Atomic uint64_t opened;
    _Atomic uint64_t window[2];
    _Atomic uint64_t attempts[FG_ATTEMPT_OUTCOME_COUNT];
    uint8_t          pad[48];
} hl_entry_t;

_Static_assert(sizeof(hl_entry_t) % 64 == 0, "entries are cache lines");

typedef struct {
    int32_t slot;
    char    model[FG_HEALTH_ID_MAX];
    char    country[FG_HEALTH_COUNTRY_MAX];
} hl_row_t;

struct fg_health_s {
    uint64_t         capacity;
    uint64_t         index_slots;        /* a power of two */
    uint64_t         index_offset;       /* bytes from the table */
    uint64_t         rows_offset;
    _Atomic uint64_t count;              /* entries bound */
    _Atomic uint64_t rows_seq;           /* odd while the master writes */
    _Atomic uint64_t row_count;
    uint8_t          pad[8];
    hl_entry_t       entries[];
};

_Static_assert(sizeof(struct fg_health_s) == 64, "a cache line");

typedef enum { HL_SUCCESS, HL_FAILURE, HL_NEUTRAL } hl_verdict_t;

fg_health_conf_t
fg_health_conf_from(const fg_conf_t *conf)
{
    fg_health_conf_t c;

    c.failures = conf->routing_circuit_failures;
    c.error_rate_percent = conf->routing_circuit_error_rate_percent;
    c.min_requests = conf->routing_circuit_min_requests;
    c.window_ms = conf->routing_circuit_window_ms;
    c.open_ms = conf->routing_circuit_open_ms;
    return c;
}

static uint64_t
hl_index_slots(size_t capacity)
{
    uint64_t n = 16;

    while (n < 2 * (uint64_t) capacity) {
        n <<= 1;
    }
    return n;
}

static size_t
hl_align(size_t n)
{
    return (n + 63) & ~(size_t) 63;
}

size_t
fg_health_size(size_t capacity)
{
    size_t index = sizeof(struct fg_health_s)
                   + capacity * sizeof(hl_entry_t);
    size_t rows = hl_align(index + hl_index_slots(capacity)
                                   * sizeof(uint32_t));

    return hl_align(rows + capacity * sizeof(hl_row_t));
}

static uint32_t *
hl_index(const fg_health_t *h)
{
    return (uint32_t *) ((char *) h + h->index_offset);
}

fg_health_t *
fg_health_init(void *mem, size_t capacity)
{
    fg_health_t *h = mem;

    /* Entries are cleared as they are bound, so a large table of a new
     * arena costs memory only for the endpoints it holds. */
    memset(h, 0, sizeof(*h));
    h->capacity = capacity;
    h->index_slots = hl_index_slots(capacity);
    h->index_offset = sizeof(struct fg_health_s)
                      + capacity * sizeof(hl_entry_t);
    h->rows_offset = hl_align(h->index_offset + h->index_slots
                                                * sizeof(uint32_t));
    memset(hl_index(h), 0, h->index_slots * sizeof(uint32_t));
    return h;
}

fg_health_t *
fg_health_at(void *mem)
{
    return mem;
}

size_t
fg_health_capacity(const fg_health_t *h)
{
    return h->capacity;
}

size_t
fg_health_count(const fg_health_t *h)
{
    return atomic_load_explicit(&h->count, memory_order_acquire);
}

static hl_row_t *
hl_rows(const fg_health_t *h)
{
    return (hl_row_t *) ((char *) h + h->rows_offset);
}

/* @slot's entry, or NULL for one not bound. */
static hl_entry_t *
hl_entry(const fg_health_t *h, int slot)
{
    if (h == NULL || slot < 0 || (uint64_t) slot >= fg_health_count(h)) {
        return NULL;
    }
    return (hl_entry_t *) &h->entries[slot];
}

/* @src cut to @size - 1 bytes, NUL-padded. */
static void
hl_copy(char *dst, const char *src, size_t size)
{
    size_t n = strnlen(src != NULL ? src : "", size - 1);

    memset(dst, 0, size);
    memcpy(dst, src != NULL ? src : "", n);
}

static uint64_t
hl_hash(const char *provider, const char *model)
{
    uint64_t    x = 14695981039346656037ULL;   /* FNV-1a */
    const char *s;

    for (s = provider; *s != '\0'; s++) {
        x = (x ^ (uint8_t) *s) * 1099511628211ULL;
    }
    x = (x ^ 0xff) * 1099511628211ULL;          /* no id has this byte */
    for (s = model; *s != '\0'; s++) {
        x = (x ^ (uint8_t) *s) * 1099511628211ULL;
    }
    return x ^ (x >> 29);
}

int
fg_health_bind(fg_health_t *h, const char *provider, const char *model)
{
    char        p[FG_HEALTH_ID_MAX], m[FG_HEALTH_ID_MAX];
    uint32_t   *index = hl_index(h);
    uint64_t    mask = h->index_slots - 1, i, n;
    hl_entry_t *e;

    hl_copy(p, provider, sizeof(p));
    hl_copy(m, model, sizeof(m));
    for (i = hl_hash(p, m) & mask; index[i] != 0; i = (i + 1) & mask) {
        e = &h->entries[index[i] - 1];
        if (strcmp(e->provider, p) == 0 && strcmp(e->model, m) == 0) {
            return (int) (index[i] - 1);
        }
    }
    n = atomic_load_explicit(&h->count, memory_order_relaxed);
    if (n == h->capacity) {
        return -1;
    }
    memset(&h->entries[n], 0, sizeof(h->entries[n]));
    memcpy(h->entries[n].provider, p, sizeof(p));
    memcpy(h->entries[n].model, m, sizeof(m));
    index[i] = (uint32_t) n + 1;
    atomic_store_explicit(&h->count, n + 1, memory_order_release);
    return (int) n;
}

/* The circuit word's fields. */
static uint64_t
hl_word(uint64_t open, uint64_t probe, uint64_t fails, int64_t t)
{
    if (fails > HL_FAILS_MAX) {
        fails = HL_FAILS_MAX;
    }
    t = t < 0 ? 0 : t > HL_TIME_MAX ? HL_TIME_MAX : t;
    return open | probe | fails << HL_FAILS_SHIFT
           | (uint64_t) t << HL_TIME_SHIFT;
}

static uint64_t
hl_fails(uint64_t w)
{
    return (w >> HL_FAILS_SHIFT) & HL_FAILS_MAX;
}

static int64_t
hl_time(uint64_t w)
{
    return (int64_t) (w >> HL_TIME_SHIFT);
}

/*
 * Reads @e as of @now: its state, and 1 when a request may go now, or 0
 * with *@retry_at when it may.
 */
static int
hl_look(const hl_entry_t *e, const fg_health_conf_t *conf, int64_t now,
        fg_circuit_t *state, int64_t *retry_at)
{
    uint64_t w = atomic_load_explicit(&e->circuit, memory_order_acquire);
    int64_t  t = hl_time(w), cool;
    int      ok = 1;

    *state = FG_CIRCUIT_CLOSED;
    *retry_at = 0;
    if ((w & HL_STATE_MASK) == HL_OPEN) {
        if (!(w & HL_PROBE) && now < t) {
            *state = FG_CIRCUIT_OPEN;
            *retry_at = t;
            ok = 0;
        } else {
            *state = FG_CIRCUIT_HALF_OPEN;
            if ((w & HL_PROBE) && now - t < conf->open_ms) {
                *retry_at = t + conf->open_ms;
                ok = 0;
            }
        }
    }
    cool = atomic_load_explicit(&e->cool_until_ms, memory_order_relaxed);
    if (now < cool) {
        if (cool > *retry_at) {
            *retry_at = cool;
        }
        ok = 0;
    }
    return ok;
}

int
fg_health_available(const fg_health_t *h, int slot,
                    const fg_health_conf_t *conf, int64_t now_ms,
                    int64_t *retry_at_ms)
{
    const hl_entry_t *e = hl_entry(h, slot);
    fg_circuit_t      state;
    int64_t           at;
    int               ok;

    if (e == NULL) {
        return 1;
    }
    ok = hl_look(e, conf, now_ms, &state, &at);
    if (!ok && retry_at_ms != NULL) {
        *retry_at_ms = at;
    }
    return ok;
}

int
fg_health_begin(fg_health_t *h, int slot, const fg_health_conf_t *conf,
                int64_t now_ms)
{
    hl_entry_t *e = hl_entry(h, slot);
    uint64_t    w;

    if (e == NULL) {
        return 1;
    }
    w = atomic_load_explicit(&e->circuit, memory_order_acquire);
    for (;;) {
        if (now_ms < atomic_load_explicit(&e->cool_until_ms,
                                          memory_order_relaxed)) {
            return 0;
        }
        if ((w & HL_STATE_MASK) != HL_OPEN) {
            return 1;
        }
        if (!(w & HL_PROBE) ? now_ms < hl_time(w)
                            : now_ms - hl_time(w) < conf->open_ms) {
            return 0;
        }
        /* Half-open, no live claim: take the probe. */
        if (atomic_compare_exchange_weak_explicit(
                &e->circuit, &w, hl_word(HL_OPEN, HL_PROBE, hl_fails(w),
                                         now_ms),
                memory_order_acq_rel, memory_order_acquire)) {
            return 1;
        }
    }
}

/* A zeroed conf must not divide by zero: a window of 1 ms then. */
static int64_t
hl_window_ms(const fg_health_conf_t *conf)
{
    return conf->window_ms > 0 ? conf->window_ms : 1;
}

static uint64_t
hl_window_index(const fg_health_conf_t *conf, int64_t now)
{
    return (uint64_t) (now < 0 ? 0 : now / hl_window_ms(conf));
}

static void
hl_window_add(hl_entry_t *e, const fg_health_conf_t *conf, int64_t now,
              int is_failure)
{
    uint64_t         idx = hl_window_index(conf, now) & HL_WIN_INDEX_MASK;
    _Atomic uint64_t *b = &e->window[idx & 1];
    uint64_t         w, nw, att, fail;

    w = atomic_load_explicit(b, memory_order_relaxed);
    do {
        att = 0;
        fail = 0;
        if ((w & HL_WIN_INDEX_MASK) == idx) {
            att = (w >> HL_WIN_INDEX_BITS) & HL_WIN_COUNT_MAX;
            fail = w >> (HL_WIN_INDEX_BITS + HL_WIN_COUNT_BITS);
        }
        if (att == HL_WIN_COUNT_MAX) {
            return;              /* full: the rate stands as it is */
        }
        att++;
        fail += is_failure != 0;
        nw = idx | att << HL_WIN_INDEX_BITS
             | fail << (HL_WIN_INDEX_BITS + HL_WIN_COUNT_BITS);
    } while (!atomic_compare_exchange_weak_explicit(b, &w, nw,
                                                    memory_order_relaxed,
                                                    memory_order_relaxed));
}

/* Attempts and failures in the sliding window ending at @now. */
static void
hl_window_read(const hl_entry_t *e, const fg_health_conf_t *conf,
               int64_t now, uint64_t *attempts, uint64_t *failures)
{
    uint64_t idx = hl_window_index(conf, now);
    uint64_t cur = atomic_load_explicit(&e->window[idx & 1],
                                        memory_order_relaxed);
    uint64_t prev = atomic_load_explicit(&e->window[(idx + 1) & 1],
                                         memory_order_relaxed);
    uint64_t win = (uint64_t) hl_window_ms(conf);
    uint64_t left = win - (uint64_t) (now < 0 ? 0 : now % (int64_t) win);

    *attempts = 0;
    *failures = 0;
    if ((cur & HL_WIN_INDEX_MASK) == (idx & HL_WIN_INDEX_MASK)) {
        *attempts = (cur >> HL_WIN_INDEX_BITS) & HL_WIN_COUNT_MAX;
        *failures = cur >> (HL_WIN_INDEX_BITS + HL_WIN_COUNT_BITS);
    }
    if (idx > 0
        && (prev & HL_WIN_INDEX_MASK) == ((idx - 1) & HL_WIN_INDEX_MASK)) {
        /* The previous window, weighted by its part still in the
         * sliding one. */
        *attempts += ((prev >> HL_WIN_INDEX_BITS) & HL_WIN_COUNT_MAX) * left
                     / win;
        *failures += (prev >> (HL_WIN_INDEX_BITS + HL_WIN_COUNT_BITS))
                     * left / win;
    }
}

static int
hl_rate_trips(const hl_entry_t *e, const fg_health_conf_t *conf,
              int64_t now)
{
    uint64_t att, fail;

    hl_window_read(e, conf, now, &att, &fail);
    return att > 0 && att >= (uint64_t) conf->min_requests
           && fail * 100 >= (uint64_t) conf->error_rate_percent * att;
}

/*
 * The circuit after an attempt ended. Whatever ends while the probe is
 * out decides it: the probe, or an attempt sent before the circuit
 * opened (its verdict is as good). An attempt that ends while the
 * circuit is open with no probe out changes nothing but the count of
 * consecutive failures: it was sent before the circuit opened.
 */
static void
hl_transition(hl_entry_t *e, const fg_health_conf_t *conf, int64_t now,
              hl_verdict_t v)
{
    uint64_t w = atomic_load_explicit(&e->circuit, memory_order_acquire);
    uint64_t nw, fails;
    int      is_open, has_probe, opens;

    for (;;) {
        is_open = (w & HL_STATE_MASK) == HL_OPEN;
        has_probe = (w & HL_PROBE) != 0;
        fails = hl_fails(w);
        opens = 0;
        if (v == HL_SUCCESS) {
            if (is_open ? !has_probe : fails == 0) {
                return;
            }
            nw = 0;
        } else if (v == HL_FAILURE) {
            fails++;
            if ((!is_open && ((int64_t) fails >= conf->failures
                              || hl_rate_trips(e, conf, now)))
                || has_probe) {
                nw = hl_word(HL_OPEN, 0, fails, now + conf->open_ms);
                opens = 1;
            } else {
                nw = hl_word(is_open ? HL_OPEN : 0, 0, fails,
                             is_open ? hl_time(w) : 0);
            }
        } else {
            if (!has_probe) {
                return;
            }
            /* No verdict: give the probe back. Its claim time, now past,
             * ends the open period, so the next caller may probe. */
            nw = hl_word(HL_OPEN, 0, fails, hl_time(w));
        }
        if (atomic_compare_exchange_weak_explicit(&e->circuit, &w, nw,
                                                  memory_order_acq_rel,
                                                  memory_order_acquire)) {
            if (opens) {
                atomic_fetch_add_explicit(&e->opened, 1,
                                          memory_order_relaxed);
            }
            return;
        }
    }
}

static double
hl_double(uint64_t bits)
{
    double d;

    memcpy(&d, &bits, sizeof(d));
    return d;
}

/* The first sample sets the average (0 bits: none yet). */
static void
hl_ewma(_Atomic uint64_t *cell, double sample)
{
    uint64_t old, nw;
    double   next;

    if (!(sample >= 0) || !isfinite(sample)) {
        return;
    }
    old = atomic_load_explicit(cell, memory_order_relaxed);
    do {
        next = old == 0 ? sample
                        : hl_double(old) + FG_HEALTH_EWMA_WEIGHT
                                           * (sample - hl_double(old));
        memcpy(&nw, &next, sizeof(nw));
    } while (!atomic_compare_exchange_weak_explicit(cell, &old, nw,
                                                    memory_order_relaxed,
                                                    memory_order_relaxed));
}

void
fg_health_end(fg_health_t *h, int slot, const fg_health_conf_t *conf,
              int64_t now_ms, fg_attempt_outcome_t outcome, int is_success,
              int is_circuit_failure, double ttft_ms, double tps)
{
    hl_entry_t  *e = hl_entry(h, slot);
    hl_verdict_t v = HL_NEUTRAL;

    if (e == NULL) {
        return;
    }
    if ((unsigned) outcome < FG_ATTEMPT_OUTCOME_COUNT) {
        atomic_fetch_add_explicit(&e->attempts[outcome], 1,
                                  memory_order_relaxed);
    }
    if (is_success) {
        v = HL_SUCCESS;
        atomic_fetch_add_explicit(&e->successes, 1, memory_order_relaxed);
        hl_window_add(e, conf, now_ms, 0);
        hl_ewma(&e->ttft_bits, ttft_ms);
        hl_ewma(&e->tps_bits, tps);
    } else if (is_circuit_failure) {
        v = HL_FAILURE;
        atomic_fetch_add_explicit(&e->failures, 1, memory_order_relaxed);
        hl_window_add(e, conf, now_ms, 1);
    }
    hl_transition(e, conf, now_ms, v);
}

void
fg_health_cool(fg_health_t *h, int slot, int64_t until_ms)
{
    hl_entry_t *e = hl_entry(h, slot);
    int64_t     cur;

    if (e == NULL) {
        return;
    }
    cur = atomic_load_explicit(&e->cool_until_ms, memory_order_relaxed);
    while (cur < until_ms
           && !atomic_compare_exchange_weak_explicit(
                  &e->cool_until_ms, &cur, until_ms, memory_order_relaxed,
                  memory_order_relaxed)) {
    }
}

void
fg_health_failover(fg_health_t *h, int slot)
{
    hl_entry_t *e = hl_entry(h, slot);

    if (e != NULL) {
        atomic_fetch_add_explicit(&e->failovers, 1, memory_order_relaxed);
    }
}

int
fg_health_speed(const fg_health_t *h, int slot, double *ttft_ms, double *tps)
{
    const hl_entry_t *e = hl_entry(h, slot);

    if (e == NULL) {
        return FG_ERR;
    }
    *ttft_ms = hl_double(atomic_load_explicit(&e->ttft_bits,
                                              memory_order_relaxed));
    *tps = hl_double(atomic_load_explicit(&e->tps_bits,
                                          memory_order_relaxed));
    return FG_OK;
}

int
fg_health_read(const fg_health_t *h, int slot, const fg_health_conf_t *conf,
               int64_t now_ms, fg_health_view_t *out)
{
    const hl_entry_t *e = hl_entry(h, slot);
    unsigned          i;

    if (e == NULL) {
        return FG_ERR;
    }
    memset(out, 0, sizeof(*out));
    memcpy(out->provider, e->provider, sizeof(out->provider));
    memcpy(out->model, e->model, sizeof(out->model));
    (void) hl_look(e, conf, now_ms, &out->state, &out->retry_at_ms);
    out->ttft_ms = hl_double(atomic_load_explicit(&e->ttft_bits,
                                                  memory_order_relaxed));
    out->tps = hl_double(atomic_load_explicit(&e->tps_bits,
                                              memory_order_relaxed));
    out->successes = atomic_load_explicit(&e->successes,
                                          memory_order_relaxed);
    out->failures = atomic_load_explicit(&e->failures, memory_order_relaxed);
    hl_window_read(e, conf, now_ms, &out->window_attempts,
                   &out->window_failures);
    out->consecutive_failures = hl_fails(atomic_load_explicit(
        &e->circuit, memory_order_relaxed));
    for (i = 0; i < FG_ATTEMPT_OUTCOME_COUNT; i++) {
        out->attempts[i] = atomic_load_explicit(&e->attempts[i],
                                                memory_order_relaxed);
    }
    out->failovers = atomic_load_explicit(&e->failovers,
                                          memory_order_relaxed);
    out->opened = atomic_load_explicit(&e->opened, memory_order_relaxed);
    return FG_OK;
}

void
fg_health_publish(fg_health_t *h, const fg_health_row_t *rows, size_t n)
{
    hl_row_t *r = hl_rows(h);
    uint64_t  seq;
    size_t    i;

    if (n > h->capacity) {
        n = h->capacity;
    }
    /* A seqlock with one writer: odd while writing. */
    seq = atomic_load_explicit(&h->rows_seq, memory_order_relaxed) | 1u;
    atomic_store_explicit(&h->rows_seq, seq, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    for (i = 0; i < n; i++) {
        r[i].slot = rows[i].slot;
        hl_copy(r[i].model, rows[i].model, sizeof(r[i].model));
        hl_copy(r[i].country, rows[i].country, sizeof(r[i].country));
    }
    atomic_store_explicit(&h->row_count, n, memory_order_relaxed);
    atomic_store_explicit(&h->rows_seq, seq + 1, memory_order_release);
}

int
fg_health_rows(const fg_health_t *h, fg_health_row_t **rows, size_t *n)
{
    const hl_row_t  *r = hl_rows(h);
    fg_health_row_t *out = NULL;
    uint64_t         before, count;
    size_t           i;
    int              tries;

    for (tries = 0; tries < HL_ROWS_TRIES; tries++) {
        before = atomic_load_explicit(&h->rows_seq, memory_order_acquire);
        if (before & 1u) {
            continue;
        }
        count = atomic_load_explicit(&h->row_count, memory_order_relaxed);
        free(out);
        out = count > 0 ? fg_xmalloc(count * sizeof(*out)) : NULL;
        for (i = 0; i < count; i++) {
            out[i].slot = r[i].slot;
            memcpy(out[i].model, r[i].model, sizeof(out[i].model));
            memcpy(out[i].country, r[i].country, sizeof(out[i].country));
            out[i].model[sizeof(out[i].model) - 1] = '\0';
            out[i].country[sizeof(out[i].country) - 1] = '\0';
        }
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&h->rows_seq, memory_order_relaxed)
            == before) {
            *rows = out;
            *n = count;
            return FG_OK;
        }
    }
    free(out);
    *rows = NULL;
    *n = 0;
    return FG_ERR;
}

const char *
fg_circuit_name(fg_circuit_t state)
{
    switch (state) {
    case FG_CIRCUIT_CLOSED:    return "closed";
    case FG_CIRCUIT_OPEN:      return "open";
    case FG_CIRCUIT_HALF_OPEN: return "half_open";
    }
    return "closed";
}
