/*
 * limiter.c: GCRA and concurrency limits in shared memory.
 *
 * GCRA (the generic cell rate algorithm) keeps one word per limit, the
 * theoretical arrival time TAT, in monotonic nanoseconds. A request of
 * cost c under a limit of L per window W moves it by c * W / L; it is
 * admitted when the new TAT is at most W ahead of now, so a subject may
 * spend its whole minute's quota at once and then regains one unit every
 * W / L, continuously, as OpenAI's limits behave: over any stretch of t
 * at most L + L * t / W units pass (exact across workers: no more than
 * that, ever), and a refusal knows its Retry-After exactly
 * (new TAT - W - now). The update is one CAS on one word, so a
 * worker killed at any instruction leaves either the old TAT or the new.
 * A sliding-window counter needs two words per limit and only
 * approximates; a fixed window allows 2L at its edges.
 *
 * Concurrency is a counter per subject plus, for every increment, a slot
 * in the taking worker's own table (TAKING before the CAS, HELD after):
 * a worker that dies leaves its slots behind and the master gives each
 * one back. The single instruction between writing TAKING and the CAS is
 * the only ambiguity; the master resolves it as "taken" and never lets a
 * counter go below zero, so a crash can at worst admit one request more,
 * never lock a tenant out.
 */

#include <string.h>

#include "common/accounts/limiter.h"
#include "common/accounts/subjects.h"

#define LIMITER_MAGIC      0x316d696c6b677866ULL   /* "fxgklim1" */
#define LIMITER_TAKING     1ULL
#define LIMITER_HELD       2ULL

typedef struct {
    _Atomic uint64_t subject;            /* 0: free */
    _Atomic int64_t  requests_tat_ns;
    _Atomic int64_t  tokens_tat_ns;
    _Atomic int64_t  in_flight;
} limiter_state_t;

_Static_assert(sizeof(limiter_state_t) == 32, "limiter state layout");

/* The region: subject states are its entries, each worker's concurrency
 * slots its slot tables (common/accounts/subjects.h). */
struct fg_limiter_s {
    fg_subjects_region_t r;              /* owners: the workers */
};

_Static_assert(sizeof(struct fg_limiter_s) == 64, "limiter header layout");

static const fg_subjects_layout_t limiter_layout = {
    .name = "limiter",
    .magic = LIMITER_MAGIC,
    .entry_bytes = sizeof(limiter_state_t),
    .owner_bytes = FG_LIMITER_SLOTS_PER_WORKER * sizeof(uint64_t),
    .min_owners = 1,
};

static limiter_state_t *
limiter_states(const fg_limiter_t *l)
{
    return fg_subjects_region_entries(&l->r);
}

/* Worker @w's slot words: (kind << 32) | (state index + 1); 0 = free. */
static _Atomic uint64_t *
limiter_slots(const fg_limiter_t *l, unsigned w)
{
    return fg_subjects_region_slots(&l->r, w, limiter_layout.owner_bytes);
}

size_t
fg_limiter_bytes(uint32_t max_subjects, unsigned workers)
{
    return fg_subjects_region_bytes(&limiter_layout, max_subjects, workers);
}

fg_limiter_t *
fg_limiter_init(void *mem, size_t bytes, uint32_t max_subjects,
                unsigned workers, fg_err_t *err)
{
    return (fg_limiter_t *) fg_subjects_region_init(&limiter_layout, mem,
                                                    bytes, max_subjects,
                                                    workers, err);
}

static int
limiter_hex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

uint64_t
fg_limiter_subject(const char *name)
{
    uint64_t h = 0;
    size_t   i;

    if (strncmp(name, "key_", 4) == 0 && strlen(name) == 20) {
        for (i = 4; i < 20 && limiter_hex(name[i]) >= 0; i++) {
            h = h << 4 | (uint64_t) limiter_hex(name[i]);
        }
        if (i == 20) {
            /* All 64 bits, so the id can be written back from it (a dead
             * worker's usage record); that one equals a name's hash is a
             * 2^-64 chance. */
            return h != 0 ? h : 1;
        }
    }
    h = 0xcbf29ce484222325ULL;
    for (i = 0; name[i] != '\0'; i++) {
        h = (h ^ (unsigned char) name[i]) * 0x100000001b3ULL;
    }
    return h | (1ULL << 63);
}

/* The state of @subject, entered if new; NULL when the table is full. */
static limiter_state_t *
limiter_state(fg_limiter_t *l, uint64_t subject, uint32_t *index)
{
    return fg_subjects_find(limiter_states(l), sizeof(limiter_state_t),
                            l->r.entries, subject, 1, index);
}

/* c * W / L without overflow. */
static int64_t
limiter_step(int64_t cost, int64_t limit)
{
    return (int64_t) ((__int128) cost * FG_LIMITER_WINDOW_NS / limit);
}

/*
 * One GCRA admission of @cost under @limit. On success *@step is what it
 * added (for a refund) and *@ahead how far TAT now is ahead of @now.
 * On refusal *@ahead is how far the refused TAT would have been ahead.
 */
static int
limiter_gcra(_Atomic int64_t *tat, int64_t cost, int64_t limit, int64_t now,
             int64_t *step, int64_t *ahead)
{
    int64_t cur = atomic_load_explicit(tat, memory_order_relaxed), next;

    *step = limiter_step(cost, limit);
    for (;;) {
        next = (cur > now ? cur : now) + *step;
        *ahead = next - now;
        if (*ahead > FG_LIMITER_WINDOW_NS) {
            return FG_ERR;
        }
        if (atomic_compare_exchange_weak_explicit(tat, &cur, next,
                                                  memory_order_acq_rel,
                                                  memory_order_relaxed)) {
            return FG_OK;
        }
    }
}

static void
limiter_add(_Atomic int64_t *word, int64_t delta)
{
    atomic_fetch_add_explicit(word, delta, memory_order_acq_rel);
}

/* Decrements a concurrency counter, never below zero. */
static void
limiter_give_back(_Atomic int64_t *in_flight)
{
    int64_t cur = atomic_load_explicit(in_flight, memory_order_relaxed);

    while (cur > 0
           && !atomic_compare_exchange_weak_explicit(in_flight, &cur, cur - 1,
                                                     memory_order_acq_rel,
                                                     memory_order_relaxed)) {
    }
}

/* What the response headers say of one GCRA limit after admission. */
static void
limiter_report(int64_t limit, int64_t ahead, int64_t *remaining,
               int64_t *reset_ms)
{
    int64_t room = FG_LIMITER_WINDOW_NS - ahead;

    *remaining = room <= 0 ? 0
                 : (int64_t) ((__int128) room * limit / FG_LIMITER_WINDOW_NS);
    *reset_ms = ahead <= 0 ? 0 : (ahead + 999999) / 1000000;
}

/* The report of a limit without taking anything from it. */
static void
limiter_peek(_Atomic int64_t *tat, int64_t limit, int64_t now,
             int64_t *remaining, int64_t *reset_ms)
{
    int64_t ahead = atomic_load_explicit(tat, memory_order_relaxed) - now;

    limiter_report(limit, ahead > 0 ? ahead : 0, remaining, reset_ms);
}

/* A refusal's wait: what passes the window, to the millisecond (at
 * least 1), and in whole seconds, both rounded up. */
static void
limiter_retry(int64_t ahead, fg_admission_t *out)
{
    int64_t over = ahead - FG_LIMITER_WINDOW_NS;

    out->retry_after_ms = over <= 0 ? 1 : (over + 999999) / 1000000;
    out->retry_after_s = (out->retry_after_ms + 999) / 1000;
}

/* Takes a concurrency slot; -1 when the limit or the slot table is full. */
static int32_t
limiter_take(fg_limiter_t *l, unsigned worker, limiter_state_t *st,
             uint32_t index, int64_t max)
{
    static uint32_t          hint;     /* a worker has one thread */
    _Atomic uint64_t        *slots = limiter_slots(l, worker);
    uint32_t                 n, s = 0;
    int64_t                  cur;
    int                      found = 0;

    for (n = 0; n < FG_LIMITER_SLOTS_PER_WORKER; n++) {
        s = (hint + n) % FG_LIMITER_SLOTS_PER_WORKER;
        if (atomic_load_explicit(&slots[s], memory_order_relaxed) == 0) {
            found = 1;
            break;
        }
    }
    if (!found) {
        return -1;
    }
    hint = s + 1;
    atomic_store_explicit(&slots[s], LIMITER_TAKING << 32 | (index + 1ULL),
                          memory_order_release);
    cur = atomic_load_explicit(&st->in_flight, memory_order_relaxed);
    for (;;) {
        if (cur >= max) {
            atomic_store_explicit(&slots[s], 0, memory_order_release);
            return -1;
        }
        if (atomic_compare_exchange_weak_explicit(&st->in_flight, &cur,
                                                  cur + 1,
                                                  memory_order_acq_rel,
                                                  memory_order_relaxed)) {
            break;
        }
    }
    atomic_store_explicit(&slots[s], LIMITER_HELD << 32 | (index + 1ULL),
                          memory_order_release);
    return (int32_t) s;
}

static void
limiter_release(fg_limiter_t *l, unsigned worker, int32_t slot,
                limiter_state_t *st)
{
    limiter_give_back(&st->in_flight);
    atomic_store_explicit(&limiter_slots(l, worker)[slot], 0,
                          memory_order_release);
}

int
fg_limiter_admit(fg_limiter_t *l, unsigned worker, uint64_t subject,
                 const fg_limits_t *limits, int64_t tokens, int64_t now_ns,
                 fg_admission_t *out)
{
    limiter_state_t *st;
    uint32_t         index = 0;
    int64_t          req_step = 0, tok_step = 0, ahead;

    memset(out, 0, sizeof(*out));
    out->slot = -1;
    out->limits = *limits;
    out->requests_limit = limits->requests_per_min;
    out->tokens_limit = limits->tokens_per_min;
    if (limits->requests_per_min <= 0 && limits->tokens_per_min <= 0
        && limits->max_concurrent <= 0) {
        return FG_OK;
    }
    st = worker < l->r.owners ? limiter_state(l, subject, &index) : NULL;
    if (st == NULL) {
        out->refused = FG_LIMIT_CONCURRENCY;
        out->retry_after_s = 1;
        out->retry_after_ms = 1000;
        return FG_ERR;
    }
    out->state_index = index;

    if (limits->max_concurrent > 0) {
        out->slot = limiter_take(l, worker, st, index,
                                 limits->max_concurrent);
        if (out->slot < 0) {
            out->refused = FG_LIMIT_CONCURRENCY;
            out->retry_after_s = 1;
            out->retry_after_ms = 1000;
            goto undo;
        }
    }
    if (limits->requests_per_min > 0) {
        if (limiter_gcra(&st->requests_tat_ns, 1, limits->requests_per_min,
                         now_ns, &req_step, &ahead) != FG_OK) {
            out->refused = FG_LIMIT_REQUESTS;
            limiter_retry(ahead, out);
            out->requests_reset_ms = (ahead - req_step + 999999) / 1000000;
            goto undo;
        }
        out->requests_step_ns = req_step;
        limiter_report(limits->requests_per_min, ahead,
                       &out->requests_remaining, &out->requests_reset_ms);
    }
    if (limits->tokens_per_min > 0) {
        /* One request larger than the whole quota still passes, alone. */
        int64_t cost = tokens < limits->tokens_per_min
                       ? tokens : limits->tokens_per_min;

        if (limiter_gcra(&st->tokens_tat_ns, cost, limits->tokens_per_min,
                         now_ns, &tok_step, &ahead) != FG_OK) {
            out->refused = FG_LIMIT_TOKENS;
            limiter_retry(ahead, out);
            out->tokens_reset_ms = (ahead - tok_step + 999999) / 1000000;
            if (req_step != 0) {
                limiter_add(&st->requests_tat_ns, -req_step);
                out->requests_remaining++;
            }
            goto undo;
        }
        out->tokens_charged = cost;
        out->tokens_step_ns = tok_step;
        limiter_report(limits->tokens_per_min, ahead,
                       &out->tokens_remaining, &out->tokens_reset_ms);
    }
    return FG_OK;

undo:
    /* The headers of a refusal still describe every limit as it stands. */
    if (limits->requests_per_min > 0 && out->refused != FG_LIMIT_REQUESTS
        && out->requests_step_ns == 0 && out->requests_remaining == 0) {
        limiter_peek(&st->requests_tat_ns, limits->requests_per_min, now_ns,
                     &out->requests_remaining, &out->requests_reset_ms);
    }
    if (limits->tokens_per_min > 0 && out->refused != FG_LIMIT_TOKENS) {
        limiter_peek(&st->tokens_tat_ns, limits->tokens_per_min, now_ns,
                     &out->tokens_remaining, &out->tokens_reset_ms);
    }
    if (out->slot >= 0) {
        limiter_release(l, worker, out->slot, st);
        out->slot = -1;
    }
    return FG_ERR;
}

void
fg_limiter_settle(fg_limiter_t *l, unsigned worker, fg_admission_t *a,
                  int64_t actual_tokens)
{
    limiter_state_t *st = limiter_states(l) + a->state_index;

    if (a->limits.tokens_per_min > 0 && a->tokens_charged > 0
        && actual_tokens >= 0 && actual_tokens != a->tokens_charged) {
        limiter_add(&st->tokens_tat_ns,
                    limiter_step(actual_tokens - a->tokens_charged,
                                 a->limits.tokens_per_min));
        a->tokens_charged = actual_tokens;
    }
    if (a->slot >= 0) {
        limiter_release(l, worker, a->slot, st);
        a->slot = -1;
    }
}

void
fg_limiter_peek(fg_limiter_t *l, uint64_t subject, const fg_limits_t *limits,
                int64_t now_ns, fg_admission_t *out)
{
    limiter_state_t *st;
    uint32_t         index;

    out->requests_limit = limits->requests_per_min;
    out->tokens_limit = limits->tokens_per_min;
    if ((limits->requests_per_min <= 0 && limits->tokens_per_min <= 0)
        || (st = limiter_state(l, subject, &index)) == NULL) {
        return;
    }
    if (limits->requests_per_min > 0) {
        limiter_peek(&st->requests_tat_ns, limits->requests_per_min, now_ns,
                     &out->requests_remaining, &out->requests_reset_ms);
    }
    if (limits->tokens_per_min > 0) {
        limiter_peek(&st->tokens_tat_ns, limits->tokens_per_min, now_ns,
                     &out->tokens_remaining, &out->tokens_reset_ms);
    }
}

void
fg_limiter_cancel(fg_limiter_t *l, unsigned worker, fg_admission_t *a)
{
    limiter_state_t *st = limiter_states(l) + a->state_index;

    if (a->requests_step_ns != 0) {
        limiter_add(&st->requests_tat_ns, -a->requests_step_ns);
        a->requests_step_ns = 0;
    }
    if (a->tokens_step_ns != 0) {
        limiter_add(&st->tokens_tat_ns, -a->tokens_step_ns);
        a->tokens_step_ns = 0;
        a->tokens_charged = 0;
    }
    if (a->slot >= 0) {
        limiter_release(l, worker, a->slot, st);
        a->slot = -1;
    }
}

unsigned
fg_limiter_release_worker(fg_limiter_t *l, unsigned worker)
{
    _Atomic uint64_t *slots;
    unsigned          s, freed = 0;

    if (worker >= l->r.owners) {
        return 0;
    }
    slots = limiter_slots(l, worker);
    for (s = 0; s < FG_LIMITER_SLOTS_PER_WORKER; s++) {
        uint64_t word = atomic_load_explicit(&slots[s],
                                             memory_order_acquire);
        uint32_t index = (uint32_t) (word & 0xffffffffu);

        if (word == 0) {
            continue;
        }
        if (index >= 1 && index <= l->r.entries) {
            limiter_give_back(&limiter_states(l)[index - 1].in_flight);
        }
        atomic_store_explicit(&slots[s], 0, memory_order_release);
        freed++;
    }
    return freed;
}

unsigned
fg_limiter_held(const fg_limiter_t *l, unsigned worker)
{
    _Atomic uint64_t *slots;
    unsigned          s, held = 0;

    if (worker >= l->r.owners) {
        return 0;
    }
    slots = limiter_slots(l, worker);
    for (s = 0; s < FG_LIMITER_SLOTS_PER_WORKER; s++) {
        held += atomic_load_explicit(&slots[s], memory_order_relaxed) != 0;
    }
    return held;
}
