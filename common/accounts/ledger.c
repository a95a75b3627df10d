/*
 * ledger.c: balances and reservations, crash-exact.
 *
 * Each account (one per key) has a lock word that holds its owner's index
 * + 1, never a pid, so the master knows whose it is after waitpid(). All
 * changes of a balance happen under the lock, in one shape:
 *
 *   1) lock; compute the new balance, regeneration time and carry into
 *      locals;
 *   2) write the owner's slot: the pre-images (balance, regeneration time
 *      and carry before) and the post-images (after), then its state
 *      (RESERVING, SETTLING, or PUTTING for any other change: a put, a
 *      refused reservation's regeneration, a withdrawal), with release
 *      order;
 *   3) store regeneration time and carry, then the balance;
 *   4) set the slot's next state (HELD after a reservation, FREE after
 *      anything else); unlock.
 *
 * A plain compare-and-swap on the balance cannot be repaired: after a
 * SIGKILL between "record the intent" and "swap", nobody knows whether the
 * debit happened. Here the master, finding the lock held by a dead owner,
 * reads that owner's slot: a balance equal to the post-image means step 3
 * completed, equal to the pre-image means it did not (then the
 * regeneration fields are restored from their pre-images too); the slot's
 * state then says what to finish. Which way the balance moved does not
 * matter (a withdrawal is repaired as a put), and when the two images'
 * balances are equal either reading leaves the account whole as the
 * post-image. A reservation still HELD by a dead owner
 * is settled by charging all of it: the request may have generated up to
 * its reserved worst case, and a charge is never more than what was
 * reserved, so a balance never goes below zero.
 *
 * The lock is held for a handful of loads and stores: no syscall, no
 * allocation. A waiter spins, then yields; if the holder died it waits
 * for the master's repair (the reap latency), and gives up after a bound.
 */

#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "common/accounts/ledger.h"
#include "common/accounts/subjects.h"

#define LEDGER_MAGIC      0x31676c646b677866ULL   /* "fxgkdlg1" */
#define LEDGER_HOUR_MS    3600000LL
#define LEDGER_SPINS      1000000
#define LEDGER_SETTLE_TRIES 30      /* of LEDGER_SPINS each: many seconds */

enum {
    LEDGER_FREE = 0,
    LEDGER_RESERVING,
    LEDGER_HELD,
    LEDGER_SETTLING,
    LEDGER_PUTTING
};

typedef struct {
    _Atomic uint64_t subject;            /* 0: free */
    _Atomic uint64_t lock;               /* 0, or owner + 1 */
    _Atomic int64_t  balance;            /* written under the lock */
    _Atomic int64_t  regen_at_ms;
    _Atomic int64_t  regen_carry;        /* remainder, micro * ms */
    _Atomic int64_t  charged;
    int64_t          regen_per_hour;
    int64_t          cap;
    /* Environmental totals of the key's requests, as integers. */
    _Atomic int64_t  energy_nwh;         /* nano-watt-hours */
    _Atomic int64_t  carbon_ng;          /* nanograms CO2e */
    _Atomic int64_t  water_nl;           /* nanolitres */
    _Atomic int64_t  requests;
    uint8_t          pad[32];
} ledger_account_t;

_Static_assert(sizeof(ledger_account_t) == 128, "ledger account layout");

typedef struct {
    _Atomic uint32_t state;
    uint32_t         account;
    int64_t          amount;             /* reserved */
    int64_t          charge;             /* SETTLING: what is taken */
    int64_t          pre_balance;
    int64_t          post_balance;
    int64_t          pre_regen_at, post_regen_at;
    int64_t          pre_carry, post_carry;
    char             request_id[FG_LEDGER_ID_MAX + 1];
    char             client_request_id[FG_LEDGER_ID_MAX + 1];
    uint8_t          pad[6];
} ledger_slot_t;

_Static_assert(sizeof(ledger_slot_t) == 336, "ledger slot layout");

/* The region: accounts are its entries, each owner's reservation slots
 * its slot tables (common/accounts/subjects.h). */
struct fg_ledger_s {
    fg_subjects_region_t r;              /* owners: workers + syncer +
                                            master */
};

_Static_assert(sizeof(struct fg_ledger_s) == 64, "ledger header layout");

static const fg_subjects_layout_t ledger_layout = {
    .name = "ledger",
    .magic = LEDGER_MAGIC,
    .entry_bytes = sizeof(ledger_account_t),
    .owner_bytes = FG_LEDGER_SLOTS_PER_OWNER * sizeof(ledger_slot_t),
    .min_owners = 3,                     /* a worker, syncer, master */
};

static ledger_account_t *
ledger_accounts(const fg_ledger_t *l)
{
    return fg_subjects_region_entries(&l->r);
}

static ledger_slot_t *
ledger_slots(const fg_ledger_t *l, unsigned owner)
{
    return fg_subjects_region_slots(&l->r, owner, ledger_layout.owner_bytes);
}

size_t
fg_ledger_bytes(uint32_t max_accounts, unsigned owners)
{
    return fg_subjects_region_bytes(&ledger_layout, max_accounts, owners);
}

fg_ledger_t *
fg_ledger_init(void *mem, size_t bytes, uint32_t max_accounts,
               unsigned owners, fg_err_t *err)
{
    return (fg_ledger_t *) fg_subjects_region_init(&ledger_layout, mem, bytes,
                                                   max_accounts, owners, err);
}

unsigned
fg_ledger_owner_syncer(const fg_ledger_t *l)
{
    return l->r.owners - 2;
}

unsigned
fg_ledger_owner_master(const fg_ledger_t *l)
{
    return l->r.owners - 1;
}

int64_t
fg_ledger_cost(const fg_price_t *price, int64_t prompt, int64_t cached,
               int64_t completion)
{
    __int128 sum;

    if (cached > prompt) {
        cached = prompt;
    }
    sum = (__int128) (prompt - cached) * price->prompt_per_mtok
          + (__int128) cached * price->cached_prompt_per_mtok
          + (__int128) completion * price->completion_per_mtok;
    sum = (sum + 999999) / 1000000;
    return sum > INT64_MAX ? INT64_MAX : (int64_t) sum;
}

int64_t
fg_ledger_affordable_completion(const fg_price_t *price, int64_t prompt,
                                int64_t budget_micro)
{
    __int128 room = (__int128) budget_micro * 1000000
                    - (__int128) prompt * price->prompt_per_mtok;

    if (room < 0) {
        return 0;
    }
    if (price->completion_per_mtok <= 0) {
        return INT64_MAX;
    }
    room /= price->completion_per_mtok;
    return room > INT64_MAX ? INT64_MAX : (int64_t) room;
}

/* The account of @subject; entered when @create. NULL if none or full. */
static ledger_account_t *
ledger_account(const fg_ledger_t *l, uint64_t subject, int create,
               uint32_t *index)
{
    return fg_subjects_find(ledger_accounts(l), sizeof(ledger_account_t),
                            l->r.entries, subject, create, index);
}

static int
ledger_lock(ledger_account_t *a, unsigned owner)
{
    uint64_t expected;
    long     spins;

    for (spins = 0; spins < LEDGER_SPINS; spins++) {
        expected = 0;
        if (atomic_compare_exchange_weak_explicit(&a->lock, &expected,
                                                  owner + 1ULL,
                                                  memory_order_acquire,
                                                  memory_order_relaxed)) {
            return FG_OK;
        }
        if (spins > 64) {
            sched_yield();   /* the holder may be off-CPU, or dead */
        }
    }
    return FG_ERR;
}

static void
ledger_unlock(ledger_account_t *a)
{
    atomic_store_explicit(&a->lock, 0, memory_order_release);
}

int64_t
fg_ledger_regen(int64_t balance, int64_t *at, int64_t *carry,
                const fg_energy_settings_t *settings, int64_t now_ms)
{
    __int128 num, add;
    int64_t  from = *at;

    if (now_ms <= from) {
        return balance;
    }
    *at = now_ms;
    if (settings->regen_per_hour_micro <= 0) {
        return balance;
    }
    if (balance >= settings->cap_micro) {
        *carry = 0;
        return balance;
    }
    num = (__int128) settings->regen_per_hour_micro * (now_ms - from)
          + *carry;
    add = num / LEDGER_HOUR_MS;
    *carry = (int64_t) (num % LEDGER_HOUR_MS);
    if ((__int128) balance + add >= settings->cap_micro) {
        *carry = 0;
        return settings->cap_micro;
    }
    return balance + (int64_t) add;
}

/* Regeneration up to @now_ms into the slot's post-images, from the
 * account's current values (the pre-images). */
static void
ledger_regenerate(const ledger_account_t *a, ledger_slot_t *s, int64_t now)
{
    fg_energy_settings_t settings = { a->regen_per_hour, a->cap };

    s->pre_balance = atomic_load_explicit(&a->balance, memory_order_relaxed);
    s->pre_regen_at = atomic_load_explicit(&a->regen_at_ms,
                                           memory_order_relaxed);
    s->pre_carry = atomic_load_explicit(&a->regen_carry,
                                        memory_order_relaxed);
    s->post_regen_at = s->pre_regen_at;
    s->post_carry = s->pre_carry;
    s->post_balance = fg_ledger_regen(s->pre_balance, &s->post_regen_at,
                                      &s->post_carry, &settings, now);
}

/* Steps 2) and 3): publish the images, then write the account. */
static void
ledger_apply(ledger_account_t *a, ledger_slot_t *s, uint32_t state)
{
    /* Release on every store: each must follow the slot's state in
     * program order (a relaxed one could be emitted before it, and a
     * death in between would leave a regeneration no slot describes). On
     * x86 these are plain moves. */
    atomic_store_explicit(&s->state, state, memory_order_release);
    atomic_store_explicit(&a->regen_at_ms, s->post_regen_at,
                          memory_order_release);
    atomic_store_explicit(&a->regen_carry, s->post_carry,
                          memory_order_release);
    atomic_store_explicit(&a->balance, s->post_balance, memory_order_release);
}

/* A free slot of @owner, or NULL. The owner is single-threaded. */
static ledger_slot_t *
ledger_free_slot(fg_ledger_t *l, unsigned owner, int32_t *index)
{
    static uint32_t hint;   /* per process: one owner per process */
    ledger_slot_t  *slots = ledger_slots(l, owner);
    uint32_t        n, i;

    for (n = 0; n < FG_LEDGER_SLOTS_PER_OWNER; n++) {
        i = (hint + n) % FG_LEDGER_SLOTS_PER_OWNER;
        if (atomic_load_explicit(&slots[i].state, memory_order_relaxed)
            == LEDGER_FREE) {
            hint = i + 1;
            *index = (int32_t) i;
            return &slots[i];
        }
    }
    return NULL;
}

/* Fills the slot @s a change of account @index takes, under its lock:
 * nothing reserved or charged, the request's ids ("" for NULL). */
static void
ledger_slot_fill(ledger_slot_t *s, uint32_t index, const char *request_id,
                 const char *client_request_id)
{
    s->account = index;
    s->amount = 0;
    s->charge = 0;
    snprintf(s->request_id, sizeof(s->request_id), "%s",
             request_id != NULL ? request_id : "");
    snprintf(s->client_request_id, sizeof(s->client_request_id), "%s",
             client_request_id != NULL ? client_request_id : "");
}

/* Step 1) for an existing account: @subject's account in *@a, a free slot
 * of @owner filled for it in *@s (its index in *@slot), and the account's
 * lock. FG_ERR with nothing held: a bad owner, no such account, no free
 * slot, or a lock a dead owner holds past the wait. */
static int
ledger_open(fg_ledger_t *l, unsigned owner, uint64_t subject,
            const char *request_id, const char *client_request_id,
            ledger_account_t **a, ledger_slot_t **s, int32_t *slot)
{
    uint32_t index;

    if (owner >= l->r.owners
        || (*a = ledger_account(l, subject, 0, &index)) == NULL
        || (*s = ledger_free_slot(l, owner, slot)) == NULL
        || ledger_lock(*a, owner) != FG_OK) {
        return FG_ERR;
    }
    ledger_slot_fill(*s, index, request_id, client_request_id);
    return FG_OK;
}

static int
ledger_put(fg_ledger_t *l, unsigned owner, uint64_t subject,
           int64_t initial_micro, int64_t initial_carry,
           int64_t delta_micro, const fg_energy_settings_t *settings,
           int64_t now_ms, fg_err_t *err)
{
    ledger_account_t *a;
    ledger_slot_t    *s;
    uint32_t          index;
    int32_t           slot;
    int               is_new;

    if (owner >= l->r.owners) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "bad ledger owner");
    }
    is_new = ledger_account(l, subject, 0, &index) == NULL;
    a = ledger_account(l, subject, 1, &index);
    s = ledger_free_slot(l, owner, &slot);
    if (a == NULL || s == NULL) {
        return fg_err_set(err, FG_E_KEY_TABLE_FULL, NULL,
                          "the energy ledger is full");
    }
    if (ledger_lock(a, owner) != FG_OK) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "the energy ledger is locked");
    }
    ledger_slot_fill(s, index, NULL, NULL);
    if (is_new && atomic_load_explicit(&a->regen_at_ms,
                                       memory_order_relaxed) == 0) {
        s->pre_balance = atomic_load_explicit(&a->balance,
                                              memory_order_relaxed);
        s->pre_regen_at = 0;
        s->pre_carry = 0;
        s->post_balance = initial_micro > 0 ? initial_micro : 0;
        s->post_regen_at = now_ms;
        s->post_carry = initial_carry;
    } else {
        ledger_regenerate(a, s, now_ms);
        s->post_balance = s->post_balance + delta_micro < 0
                          ? 0 : s->post_balance + delta_micro;
    }
    a->regen_per_hour = settings->regen_per_hour_micro;
    a->cap = settings->cap_micro;
    ledger_apply(a, s, LEDGER_PUTTING);
    atomic_store_explicit(&s->state, LEDGER_FREE, memory_order_release);
    ledger_unlock(a);
    return FG_OK;
}

int
fg_ledger_put(fg_ledger_t *l, unsigned owner, uint64_t subject,
              int64_t initial_micro, int64_t delta_micro,
              const fg_energy_settings_t *settings, int64_t now_ms,
              fg_err_t *err)
{
    return ledger_put(l, owner, subject, initial_micro, 0, delta_micro,
                      settings, now_ms, err);
}

int
fg_ledger_put_state(fg_ledger_t *l, unsigned owner, uint64_t subject,
                    int64_t balance_micro, int64_t regen_at_ms,
                    int64_t regen_carry,
                    const fg_energy_settings_t *settings, fg_err_t *err)
{
    return ledger_put(l, owner, subject, balance_micro, regen_carry, 0,
                      settings, regen_at_ms, err);
}

int64_t
fg_ledger_reserve(fg_ledger_t *l, unsigned owner, uint64_t subject,
                  const char *request_id, const char *client_request_id,
                  int64_t want_micro, int64_t min_micro, int64_t now_ms,
                  fg_reservation_t *r,
                  int64_t *balance_out)
{
    ledger_account_t *a;
    ledger_slot_t    *s;
    int32_t           slot;
    int64_t           take;

    r->slot = -1;
    r->amount_micro = 0;
    if (ledger_open(l, owner, subject, request_id, client_request_id, &a,
                    &s, &slot) != FG_OK) {
        return -1;
    }
    ledger_regenerate(a, s, now_ms);
    *balance_out = s->post_balance;
    take = s->post_balance >= want_micro ? want_micro : s->post_balance;
    if (take < min_micro || take <= 0) {
        /* Refused: only the regeneration is written. */
        s->amount = 0;
        ledger_apply(a, s, LEDGER_PUTTING);
        atomic_store_explicit(&s->state, LEDGER_FREE, memory_order_release);
        ledger_unlock(a);
        return 0;
    }
    s->amount = take;
    s->post_balance -= take;
    ledger_apply(a, s, LEDGER_RESERVING);
    atomic_store_explicit(&s->state, LEDGER_HELD, memory_order_release);
    ledger_unlock(a);
    r->slot = slot;
    r->account = s->account;
    r->amount_micro = take;
    return take;
}

int64_t
fg_ledger_settle(fg_ledger_t *l, unsigned owner, fg_reservation_t *r,
                 int64_t charge_micro, int64_t now_ms, int64_t *uncharged)
{
    ledger_account_t *a;
    ledger_slot_t    *s;
    int64_t           after;
    int               tries;

    *uncharged = 0;
    if (r->slot < 0 || owner >= l->r.owners) {
        return -1;
    }
    a = &ledger_accounts(l)[r->account];
    s = &ledger_slots(l, owner)[r->slot];
    if (charge_micro < 0) {
        charge_micro = 0;
    }
    if (charge_micro > s->amount) {
        *uncharged = charge_micro - s->amount;
        charge_micro = s->amount;
    }
    for (tries = 0; ledger_lock(a, owner) != FG_OK; tries++) {
        /* Only a dead holder keeps it this long, until the master's
         * repair; past the bound the reservation stays held, and is
         * settled in full when this owner's process ends. */
        if (tries == LEDGER_SETTLE_TRIES) {
            return -1;
        }
    }
    s->charge = charge_micro;
    /* The pre-images of the settle overwrite those of the reservation;
     * SETTLING is published before the account changes. */
    ledger_regenerate(a, s, now_ms);
    s->post_balance += s->amount - charge_micro;
    ledger_apply(a, s, LEDGER_SETTLING);
    atomic_fetch_add_explicit(&a->charged, charge_micro,
                              memory_order_relaxed);
    after = s->post_balance;
    atomic_store_explicit(&s->state, LEDGER_FREE, memory_order_release);
    ledger_unlock(a);
    r->slot = -1;
    return after;
}

int64_t
fg_ledger_withdraw(fg_ledger_t *l, unsigned owner, uint64_t subject,
                   int64_t max_micro, int64_t now_ms, int64_t *balance_out)
{
    ledger_account_t *a;
    ledger_slot_t    *s;
    int32_t           slot;
    int64_t           take;

    if (ledger_open(l, owner, subject, NULL, NULL, &a, &s, &slot) != FG_OK) {
        return -1;
    }
    /* Reserved credit left the balance when it was reserved, so the
     * regenerated balance is all there is to take. */
    ledger_regenerate(a, s, now_ms);
    take = s->post_balance < max_micro ? s->post_balance : max_micro;
    if (take < 0) {
        take = 0;
    }
    s->post_balance -= take;
    *balance_out = s->post_balance;
    /* A put's state: its repair does not care which way the balance
     * moved, only whether it equals the pre- or the post-image. */
    ledger_apply(a, s, LEDGER_PUTTING);
    atomic_store_explicit(&s->state, LEDGER_FREE, memory_order_release);
    ledger_unlock(a);
    return take;
}

int64_t
fg_ledger_balance(fg_ledger_t *l, unsigned owner, uint64_t subject,
                  int64_t now_ms)
{
    ledger_account_t *a;
    ledger_slot_t     tmp;
    uint32_t          index;

    (void) owner;
    a = ledger_account(l, subject, 0, &index);
    if (a == NULL) {
        return -1;
    }
    /* What regeneration would give now, without writing it. */
    ledger_regenerate(a, &tmp, now_ms);
    return tmp.post_balance;
}

int64_t
fg_ledger_charged(const fg_ledger_t *l, uint64_t subject)
{
    ledger_account_t *a;
    uint32_t          index;

    a = ledger_account(l, subject, 0, &index);
    return a == NULL ? -1 : atomic_load_explicit(&a->charged,
                                                 memory_order_relaxed);
}

/* Makes an account whose lock @owner held consistent with its slot. */
static void
ledger_repair_locked(fg_ledger_t *l, unsigned owner, ledger_account_t *a,
                     uint32_t index)
{
    ledger_slot_t *slots = ledger_slots(l, owner);
    uint32_t       i;

    for (i = 0; i < FG_LEDGER_SLOTS_PER_OWNER; i++) {
        ledger_slot_t *s = &slots[i];
        uint32_t       state = atomic_load_explicit(&s->state,
                                                    memory_order_acquire);
        int64_t        balance;

        if (state == LEDGER_FREE || state == LEDGER_HELD
            || s->account != index) {
            continue;
        }
        balance = atomic_load_explicit(&a->balance, memory_order_acquire);
        if (balance != s->post_balance) {
            /* Step 3 did not complete: nothing was applied. */
            atomic_store(&a->regen_at_ms, s->pre_regen_at);
            atomic_store(&a->regen_carry, s->pre_carry);
            atomic_store(&a->balance, s->pre_balance);
            /* A reservation not made is no reservation; a settle not made
             * is still a held reservation, settled below. */
            atomic_store(&s->state, state == LEDGER_SETTLING ? LEDGER_HELD
                                                             : LEDGER_FREE);
        } else {
            atomic_store(&a->regen_at_ms, s->post_regen_at);
            atomic_store(&a->regen_carry, s->post_carry);
            if (state == LEDGER_SETTLING) {
                atomic_fetch_add(&a->charged, s->charge);
            }
            atomic_store(&s->state, state == LEDGER_RESERVING ? LEDGER_HELD
                                                              : LEDGER_FREE);
        }
    }
    ledger_unlock(a);
}

unsigned
fg_ledger_repair(fg_ledger_t *l, unsigned owner, int64_t now_ms,
                 fg_ledger_lost_cb cb, void *arg)
{
    ledger_account_t *accounts = ledger_accounts(l);
    ledger_slot_t    *slots;
    unsigned          settled = 0;
    uint32_t          i;

    if (owner >= l->r.owners) {
        return 0;
    }
    for (i = 0; i < l->r.entries; i++) {
        if (atomic_load_explicit(&accounts[i].lock, memory_order_acquire)
            == owner + 1ULL) {
            ledger_repair_locked(l, owner, &accounts[i], i);
        }
    }
    slots = ledger_slots(l, owner);
    for (i = 0; i < FG_LEDGER_SLOTS_PER_OWNER; i++) {
        fg_reservation_t r;
        fg_ledger_lost_t lost;
        int64_t          cut;
        unsigned         master = fg_ledger_owner_master(l);

        if (atomic_load_explicit(&slots[i].state, memory_order_acquire)
            != LEDGER_HELD) {
            continue;
        }
        /* Settle it from the master's own slot, by the normal path. */
        memset(&lost, 0, sizeof(lost));
        memcpy(lost.request_id, slots[i].request_id,
               sizeof(lost.request_id));
        memcpy(lost.client_request_id, slots[i].client_request_id,
               sizeof(lost.client_request_id));
        lost.request_id[FG_LEDGER_ID_MAX] = '\0';
        lost.client_request_id[FG_LEDGER_ID_MAX] = '\0';
        lost.subject = atomic_load(&accounts[slots[i].account].subject);
        lost.reserved_micro = slots[i].amount;
        lost.charged_micro = slots[i].amount;
        {
            ledger_slot_t *ms;
            int32_t        mslot;

            ms = ledger_free_slot(l, master, &mslot);
            if (ms == NULL) {
                continue;
            }
            ms->account = slots[i].account;
            ms->amount = slots[i].amount;
            memcpy(ms->request_id, slots[i].request_id,
                   sizeof(ms->request_id));
            memcpy(ms->client_request_id, slots[i].client_request_id,
                   sizeof(ms->client_request_id));
            atomic_store(&ms->state, LEDGER_HELD);
            atomic_store(&slots[i].state, LEDGER_FREE);
            r.slot = mslot;
            r.account = ms->account;
            r.amount_micro = ms->amount;
        }
        (void) fg_ledger_settle(l, master, &r, lost.charged_micro, now_ms,
                                &cut);
        if (cb != NULL) {
            cb(&lost, arg);
        }
        settled++;
    }
    return settled;
}

unsigned
fg_ledger_held(const fg_ledger_t *l, unsigned owner)
{
    ledger_slot_t *slots;
    unsigned       i, n = 0;

    if (owner >= l->r.owners) {
        return 0;
    }
    slots = ledger_slots(l, owner);
    for (i = 0; i < FG_LEDGER_SLOTS_PER_OWNER; i++) {
        n += atomic_load_explicit(&slots[i].state, memory_order_relaxed)
             == LEDGER_HELD;
    }
    return n;
}

/*
 * @v in integer nano-units (@per_unit to the unit), rounded: nano, as a
 * short request uses 5e-7 kWh and 2e-6 L, which micro-units would round
 * by a tenth to a half. 0 for a negative or NaN figure, at most 2^52.
 */
static int64_t
ledger_nano(double v, double per_unit)
{
    double x = v * per_unit;

    if (!(x > 0)) {
        return 0;
    }
    return x > 4503599627370496.0 ? INT64_C(4503599627370496)
                                  : (int64_t) (x + 0.5);
}

void
fg_ledger_add_request(fg_ledger_t *l, uint64_t subject, double energy_kwh,
                      double carbon_g, double water_l)
{
    ledger_account_t *a;
    uint32_t          index;

    a = ledger_account(l, subject, 0, &index);
    if (a == NULL) {
        return;
    }
    atomic_fetch_add_explicit(&a->requests, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&a->energy_nwh, ledger_nano(energy_kwh, 1e12),
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&a->carbon_ng, ledger_nano(carbon_g, 1e9),
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&a->water_nl, ledger_nano(water_l, 1e9),
                              memory_order_relaxed);
}

int
fg_ledger_totals(const fg_ledger_t *l, uint64_t subject,
                 fg_ledger_totals_t *out)
{
    ledger_account_t *a;
    uint32_t          index;

    a = ledger_account(l, subject, 0, &index);
    if (a == NULL) {
        return FG_ERR;
    }
    out->requests = atomic_load_explicit(&a->requests, memory_order_relaxed);
    out->charged_micro = atomic_load_explicit(&a->charged,
                                              memory_order_relaxed);
    out->energy_kwh = (double) atomic_load_explicit(&a->energy_nwh,
                                                    memory_order_relaxed)
                      / 1e12;
    out->carbon_g_co2 = (double) atomic_load_explicit(&a->carbon_ng,
                                                      memory_order_relaxed)
                        / 1e9;
    out->water_liters = (double) atomic_load_explicit(&a->water_nl,
                                                      memory_order_relaxed)
                        / 1e9;
    return FG_OK;
}
