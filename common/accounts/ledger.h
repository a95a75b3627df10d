#ifndef FG_COMMON_LEDGER_H
#define FG_COMMON_LEDGER_H

/*
 * The energy ledger: every key's prepaid balance in shared memory, and the
 * reservations that guarantee zero overspend. Before its upstream call a
 * request reserves its worst-case cost from the balance; when it ends the
 * actual charge is taken from the reservation and the rest refunded. A
 * balance never goes below zero, under any concurrency, and a process
 * killed at any instruction loses nothing: ledger.c's file comment has
 * the protocol and the argument (../shared/research/reliability.md 3.2).
 *
 * Money is int64 micro-units of credit, never floating point. Every
 * function that takes @now_ms uses it for the lazy regeneration.
 *
 * Owners: each worker shm slot, the syncer and the master have a table of
 * reservation slots of their own (fg_ledger_owner_*). Only the owner
 * writes its slots, except the master repairing a dead owner's.
 */

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/base/errors.h"

#define FG_LEDGER_SLOTS_PER_OWNER 4096
#define FG_LEDGER_ID_MAX          128     /* bytes of a request id kept */

typedef struct fg_ledger_s fg_ledger_t;

/* Prices of a model, micro-units per million tokens. */
typedef struct {
    int64_t prompt_per_mtok;
    int64_t cached_prompt_per_mtok;
    int64_t completion_per_mtok;
} fg_price_t;

/* A key's energy settings, as the admin set them. */
typedef struct {
    int64_t regen_per_hour_micro;     /* 0: none */
    int64_t cap_micro;                /* regeneration stops here */
} fg_energy_settings_t;

/* One reservation, held by a request between reserve and settle. */
typedef struct {
    int32_t slot;                     /* -1: none held */
    uint32_t account;
    int64_t amount_micro;             /* what was reserved */
} fg_reservation_t;

/* What a dead owner's repair did, for the usage records of its requests. */
typedef struct {
    char     request_id[FG_LEDGER_ID_MAX + 1];         /* the gateway's */
    char     client_request_id[FG_LEDGER_ID_MAX + 1];  /* "" if none */
    uint64_t subject;
    int64_t  reserved_micro;
    int64_t  charged_micro;
} fg_ledger_lost_t;

typedef void (*fg_ledger_lost_cb)(const fg_ledger_lost_t *lost, void *arg);

/* Bytes of the region for @max_accounts accounts and @owners owners. */
size_t fg_ledger_bytes(uint32_t max_accounts, unsigned owners);

/* Lays out an empty ledger in zeroed, 64-byte aligned @mem. Master,
 * before forking. NULL with @err set on a bad size. */
fg_ledger_t *fg_ledger_init(void *mem, size_t bytes, uint32_t max_accounts,
                            unsigned owners, fg_err_t *err);

/* The owner index of the syncer and of the master (after the workers). */
unsigned fg_ledger_owner_syncer(const fg_ledger_t *l);
unsigned fg_ledger_owner_master(const fg_ledger_t *l);

/*
 * The cost of a request in micro-units, rounded up: prompt tokens (of
 * which @cached at the cached price) and completion tokens (reasoning
 * included) at @price. Saturates at INT64_MAX; cannot fail.
 */
int64_t fg_ledger_cost(const fg_price_t *price, int64_t prompt,
                       int64_t cached, int64_t completion);

/*
 * The largest completion that @budget_micro pays for after @prompt
 * tokens at @price (0 when the prompt alone is more). An unpriced
 * completion is INT64_MAX.
 */
int64_t fg_ledger_affordable_completion(const fg_price_t *price,
                                        int64_t prompt, int64_t budget_micro);

/*
 * Sets @subject's account as the store has it: the balance and the
 * settings, as of @now_ms (syncer, at load and on every admin change of
 * the key). An existing account keeps its live balance and only gets
 * @delta_micro added to it (a top-up, or the difference an admin made to
 * the balance), so reservations in flight stay right. FG_ERR when the
 * account table is full.
 */
int fg_ledger_put(fg_ledger_t *l, unsigned owner, uint64_t subject,
                  int64_t initial_micro, int64_t delta_micro,
                  const fg_energy_settings_t *settings, int64_t now_ms,
                  fg_err_t *err);

/*
 * fg_ledger_put() for a key whose balance was rebuilt from the store and
 * the usage journal (a cold start): a new account gets @balance_micro,
 * regenerating from @regen_at_ms with @regen_carry; an existing one (the
 * arena outlived the syncer) keeps its live balance and only takes the
 * settings. FG_ERR when the account table is full.
 */
int fg_ledger_put_state(fg_ledger_t *l, unsigned owner, uint64_t subject,
                        int64_t balance_micro, int64_t regen_at_ms,
                        int64_t regen_carry,
                        const fg_energy_settings_t *settings, fg_err_t *err);

/*
 * Regeneration, the one formula: @balance regenerated from *@at_ms (with
 * the remainder *@carry, micro * ms) up to @now_ms at @settings' rate,
 * never past the cap; *@at_ms and *@carry move on. Returns the balance.
 * Pure: the ledger uses it under its lock, the syncer to replay the
 * usage journal on a cold start.
 */
int64_t fg_ledger_regen(int64_t balance, int64_t *at_ms, int64_t *carry,
                        const fg_energy_settings_t *settings,
                        int64_t now_ms);

/*
 * Reserves for @request_id of @subject (with @client_request_id, may be
 * NULL: both kept, up to FG_LEDGER_ID_MAX bytes, for the record of a
 * worker that dies holding it): @want_micro if the balance
 * covers it, else everything that is left if that is at least
 * @min_micro, else nothing. Returns the amount reserved (> 0) with @r
 * filled, 0 when refused (the balance is less than @min_micro; then
 * *@balance_out says what it was), or -1 when the subject has no account
 * or the owner's slot table is full. Never blocks; no syscalls.
 */
int64_t fg_ledger_reserve(fg_ledger_t *l, unsigned owner, uint64_t subject,
                          const char *request_id,
                          const char *client_request_id, int64_t want_micro,
                          int64_t min_micro, int64_t now_ms,
                          fg_reservation_t *r, int64_t *balance_out);

/*
 * Ends @r: takes @charge_micro (at most the amount reserved: a larger
 * charge is cut to it and the cut returned through *@uncharged) and gives
 * the rest back. Returns the balance after. Call exactly once per
 * reservation; safe on an empty @r (returns the current balance, or -1).
 */
int64_t fg_ledger_settle(fg_ledger_t *l, unsigned owner,
                         fg_reservation_t *r, int64_t charge_micro,
                         int64_t now_ms, int64_t *uncharged);

/*
 * Takes at most @max_micro from @subject's balance (never more than the
 * balance holds after regeneration to @now_ms: reserved credit is not in
 * the balance, so it is never taken), for owner @owner, under the same
 * slot protocol as a reservation, so a process killed at any instruction
 * leaves either nothing taken or all of it, and the master's repair
 * (fg_ledger_repair) finishes or undoes it. Returns the amount taken
 * (0..@max_micro) and the balance after in *@balance_out, or -1 when there
 * is no such account or no free slot (nothing taken).
 *
 * For cluster mode, where the balance is credit leased from Redis: the
 * syncer's owner index gives unused lease back with it. What it takes is
 * not a charge (fg_ledger_charged() does not count it); the caller
 * journals it. A repaired cut does not say which way it went: the lease
 * reconciliation finds out from the balance. Spins on the account's lock
 * like a reservation (-1 past the bound); no allocation.
 */
int64_t fg_ledger_withdraw(fg_ledger_t *l, unsigned owner, uint64_t subject,
                           int64_t max_micro, int64_t now_ms,
                           int64_t *balance_out);

/* The balance of @subject now (regenerated), or -1 without an account. */
int64_t fg_ledger_balance(fg_ledger_t *l, unsigned owner, uint64_t subject,
                          int64_t now_ms);

/* Total charged to @subject since start, or -1 without an account. */
int64_t fg_ledger_charged(const fg_ledger_t *l, uint64_t subject);

/*
 * Repairs what the dead owner @owner left: a lock it held is released
 * with the balance made consistent from the slot's pre-image, and every
 * reservation it held is settled by charging its whole amount (the worst
 * case of what may have been generated; documented), each reported to
 * @cb. Master only, after waitpid() and before the owner's slot is
 * reused. Returns the number of reservations settled.
 */
unsigned fg_ledger_repair(fg_ledger_t *l, unsigned owner, int64_t now_ms,
                          fg_ledger_lost_cb cb, void *arg);

/*
 * A key's totals since the arena was made (the usage journal has the
 * whole history), counting what its usage records count: every request
 * that left a record (served, refused after authentication, failed,
 * cancelled, or settled by the master for a dead worker), the credit
 * charged, and the impact of those that had one.
 */
typedef struct {
    int64_t requests;
    int64_t charged_micro;
    double  energy_kwh;             /* nano-watt-hour integers, shown */
    double  carbon_g_co2;           /* nanograms */
    double  water_liters;           /* nanolitres */
} fg_ledger_totals_t;

/*
 * Counts one request of @subject that leaves a usage record, with its
 * impact (0, 0, 0 when it had none), kept as integers of nano-units so
 * concurrent adds never lose a bit. Call it where the record is made,
 * once per record. Any process; never blocks.
 */
void fg_ledger_add_request(fg_ledger_t *l, uint64_t subject,
                           double energy_kwh, double carbon_g,
                           double water_l);

/* Fills @out; FG_ERR without an account. */
int fg_ledger_totals(const fg_ledger_t *l, uint64_t subject,
                     fg_ledger_totals_t *out);

/* Reservations @owner holds now (for tests and metrics). */
unsigned fg_ledger_held(const fg_ledger_t *l, unsigned owner);

#endif
