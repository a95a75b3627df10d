/*
 * test_ledger.c: balances and reservations. Reserve, settle and refund;
 * regeneration, exact to the micro-unit and capped; prices and what a
 * budget affords, at the edges of int64; processes racing for one balance
 * never overspend it; and the master's repair of an owner that died at
 * each step of the protocol leaves the ledger exact.
 */

#include "common/accounts/ledger.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/fg_test.h"

#define OWNERS  8                 /* 6 workers, the syncer, the master */
#define KEY     0x00c0ffee00c0ffeeULL
#define T0      1800000000000LL   /* ms */

static const fg_energy_settings_t no_regen = { 0, 0 };

static fg_ledger_t *
ledger_new(void **mem, int shared)
{
    size_t   bytes = fg_ledger_bytes(64, OWNERS);
    fg_err_t err;

    if (shared) {
        *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    } else {
        *mem = aligned_alloc(64, (bytes + 63) / 64 * 64);
        memset(*mem, 0, bytes);
    }
    return fg_ledger_init(*mem, bytes, 64, OWNERS, &err);
}

static void
ledger_free(void *mem, int shared)
{
    if (shared) {
        munmap(mem, fg_ledger_bytes(64, OWNERS));
    } else {
        free(mem);
    }
}

static fg_ledger_t *
ledger_with(void **mem, int64_t balance)
{
    fg_ledger_t *l = ledger_new(mem, 0);
    fg_err_t     err;

    expect_int_eq(fg_ledger_put(l, fg_ledger_owner_syncer(l), KEY, balance,
                                0, &no_regen, T0, &err), FG_OK);
    return l;
}

static void
a_reservation_takes_the_worst_case_and_settle_refunds_the_rest(void)
{
    void            *mem;
    fg_ledger_t     *l = ledger_with(&mem, 1000);
    fg_reservation_t r;
    int64_t          seen, cut;

    expect_int_eq(fg_ledger_reserve(l, 0, KEY, "req-1", NULL, 300, 10, T0, &r,
                                    &seen), 300);
    expect_int_eq(fg_ledger_balance(l, 0, KEY, T0), 700);
    expect_int_eq(fg_ledger_held(l, 0), 1);
    expect_int_eq(fg_ledger_settle(l, 0, &r, 120, T0, &cut), 880);
    expect_int_eq(cut, 0);
    expect_int_eq(fg_ledger_charged(l, KEY), 120);
    expect_int_eq(fg_ledger_held(l, 0), 0);
    ledger_free(mem, 0);
}

static void
a_short_balance_reserves_what_is_left_if_it_covers_the_minimum(void)
{
    void            *mem;
    fg_ledger_t     *l = ledger_with(&mem, 50);
    fg_reservation_t r;
    int64_t          seen;

    expect_int_eq(fg_ledger_reserve(l, 0, KEY, "a", NULL, 300, 10, T0, &r,
                                    &seen),
                  50);
    expect_int_eq(fg_ledger_balance(l, 0, KEY, T0), 0);
    /* Nothing left: refused, and the refusal changes nothing. */
    expect_int_eq(fg_ledger_reserve(l, 0, KEY, "b", NULL, 300, 10, T0, &r,
                                    &seen),
                  0);
    expect_int_eq(seen, 0);
    expect_int_eq(r.slot, -1);
    expect_int_eq(fg_ledger_held(l, 0), 1);
    ledger_free(mem, 0);
}

static void
a_charge_above_the_reservation_is_cut_to_it(void)
{
    void            *mem;
    fg_ledger_t     *l = ledger_with(&mem, 100);
    fg_reservation_t r;
    int64_t          seen, cut;

    expect_int_eq(fg_ledger_reserve(l, 0, KEY, "a", NULL, 40, 1, T0, &r, &seen),
                  40);
    expect_int_eq(fg_ledger_settle(l, 0, &r, 75, T0, &cut), 60);
    expect_int_eq(cut, 35);
    expect_int_eq(fg_ledger_charged(l, KEY), 40);
    ledger_free(mem, 0);
}

static void
regeneration_is_exact_to_the_micro_unit_and_stops_at_the_cap(void)
{
    void                *mem;
    fg_ledger_t         *l = ledger_new(&mem, 0);
    fg_energy_settings_t regen = { 3600, 5000 };   /* 1 per second */
    fg_err_t             err;
    int64_t              t;

    expect_int_eq(fg_ledger_put(l, fg_ledger_owner_syncer(l), KEY, 0, 0,
                                &regen, T0, &err), FG_OK);
    expect_int_eq(fg_ledger_balance(l, 0, KEY, T0 + 999), 0);
    expect_int_eq(fg_ledger_balance(l, 0, KEY, T0 + 1000), 1);
    /* Many small steps add up to exactly the same as one big one. */
    for (t = T0; t <= T0 + 10000; t += 7) {
        fg_reservation_t r;
        int64_t          seen;

        (void) fg_ledger_reserve(l, 0, KEY, "tick", NULL, 1000000, 1000000,
                                 t, &r,
                                 &seen);
    }
    expect_int_eq(fg_ledger_balance(l, 0, KEY, T0 + 10003), 10);
    expect_int_eq(fg_ledger_balance(l, 0, KEY, T0 + 3600000 * 10LL), 5000);
    ledger_free(mem, 0);
}

static void
a_topup_adds_to_the_live_balance_and_keeps_reservations_right(void)
{
    void            *mem;
    fg_ledger_t     *l = ledger_with(&mem, 100);
    fg_reservation_t r;
    fg_err_t         err;
    int64_t          seen, cut;

    expect_int_eq(fg_ledger_reserve(l, 0, KEY, "a", NULL, 80, 1, T0, &r, &seen),
                  80);
    expect_int_eq(fg_ledger_put(l, fg_ledger_owner_syncer(l), KEY, 100, 500,
                                &no_regen, T0, &err), FG_OK);
    expect_int_eq(fg_ledger_balance(l, 0, KEY, T0), 520);
    expect_int_eq(fg_ledger_settle(l, 0, &r, 30, T0, &cut), 570);
    ledger_free(mem, 0);
}

static void
costs_round_up_and_saturate_and_budgets_round_down(void)
{
    fg_price_t p = { 100000, 50000, 400000 };    /* per Mtok, micro */
    fg_price_t huge = { INT64_MAX, INT64_MAX, INT64_MAX };

    expect_int_eq(fg_ledger_cost(&p, 0, 0, 0), 0);
    expect_int_eq(fg_ledger_cost(&p, 1, 0, 0), 1);             /* 0.1 up */
    expect_int_eq(fg_ledger_cost(&p, 1000000, 0, 1000000), 500000);
    expect_int_eq(fg_ledger_cost(&p, 10, 10, 0), 1);           /* cached */
    expect_int_eq(fg_ledger_cost(&p, 10, 20, 0), 1);           /* clamped */
    expect_int_eq(fg_ledger_cost(&huge, INT64_MAX, 0, INT64_MAX), INT64_MAX);
    expect_int_eq(fg_ledger_affordable_completion(&p, 1000, 100), 0);
    expect_int_eq(fg_ledger_affordable_completion(&p, 1000, 500), 1000);
    expect_int_eq(fg_ledger_affordable_completion(&p, 1000, 501), 1002);
    expect_true(fg_ledger_cost(&p, 1000, 0, 1002) <= 501);
}

static void
racing_processes_never_overspend_and_the_ledger_balances(void)
{
    void        *mem;
    fg_ledger_t *l = ledger_new(&mem, 1);
    fg_err_t     err;
    int          w, status, all_ok = 1;
    int64_t     *charged = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                                MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    expect_int_eq(fg_ledger_put(l, fg_ledger_owner_syncer(l), KEY, 10000, 0,
                                &no_regen, T0, &err), FG_OK);
    for (w = 0; w < 4; w++) {
        if (fork() == 0) {
            int64_t mine = 0;
            int     i;

            for (i = 0; i < 5000; i++) {
                fg_reservation_t r;
                int64_t          seen, cut, got;

                got = fg_ledger_reserve(l, (unsigned) w, KEY, "race", NULL,
                                        7, 3,
                                        T0, &r, &seen);
                if (got > 0) {
                    int64_t charge = got - (i % 3);

                    if (fg_ledger_settle(l, (unsigned) w, &r, charge, T0,
                                         &cut) < 0) {
                        _exit(2);
                    }
                    mine += charge - cut;
                }
            }
            charged[w] = mine;
            _exit(0);
        }
    }
    for (w = 0; w < 4; w++) {
        wait(&status);
        all_ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    expect_true(all_ok);
    expect_true(fg_ledger_balance(l, 0, KEY, T0) >= 0);
    expect_int_eq(fg_ledger_balance(l, 0, KEY, T0)
                  + charged[0] + charged[1] + charged[2] + charged[3],
                  10000);
    expect_int_eq(fg_ledger_charged(l, KEY),
                  charged[0] + charged[1] + charged[2] + charged[3]);
    munmap(charged, 4096);
    ledger_free(mem, 1);
}

static void
a_dead_owners_held_reservation_is_settled_in_full_by_the_repair(void)
{
    void            *mem;
    fg_ledger_t     *l = ledger_with(&mem, 1000);
    fg_reservation_t r;
    int64_t          seen;

    expect_int_eq(fg_ledger_reserve(l, 2, KEY, "lost", NULL, 300, 1, T0, &r,
                                    &seen), 300);
    /* Owner 2 dies holding it. */
    expect_int_eq(fg_ledger_repair(l, 2, T0, NULL, NULL), 1);
    expect_int_eq(fg_ledger_held(l, 2), 0);
    expect_int_eq(fg_ledger_balance(l, 0, KEY, T0), 700);
    expect_int_eq(fg_ledger_charged(l, KEY), 300);
    /* The master's own slot is free again. */
    expect_int_eq(fg_ledger_held(l, fg_ledger_owner_master(l)), 0);
    ledger_free(mem, 0);
}

static void
lost_ids_cb(const fg_ledger_lost_t *lost, void *arg)
{
    *(fg_ledger_lost_t *) arg = *lost;
}

static void
a_dead_owners_reservation_hands_both_ids_back_whole(void)
{
    void            *mem;
    fg_ledger_t     *l = ledger_with(&mem, 1000);
    fg_reservation_t r;
    fg_ledger_lost_t lost;
    int64_t          seen;
    char             client[FG_LEDGER_ID_MAX + 1];

    memset(client, 'c', FG_LEDGER_ID_MAX);
    client[FG_LEDGER_ID_MAX] = '\0';
    expect_int_eq(fg_ledger_reserve(l, 2, KEY, "req_00112233445566778899aabb",
                                    client, 300, 1, T0, &r, &seen), 300);
    memset(&lost, 0, sizeof(lost));
    expect_int_eq(fg_ledger_repair(l, 2, T0, lost_ids_cb, &lost), 1);
    expect_str_eq(lost.request_id, "req_00112233445566778899aabb");
    expect_str_eq(lost.client_request_id, client);
    expect_int_eq(lost.charged_micro, 300);

    /* No client id: an empty one. */
    expect_int_eq(fg_ledger_reserve(l, 2, KEY, "req_2", NULL, 10, 1, T0, &r,
                                    &seen), 10);
    expect_int_eq(fg_ledger_repair(l, 2, T0, lost_ids_cb, &lost), 1);
    expect_str_eq(lost.request_id, "req_2");
    expect_str_eq(lost.client_request_id, "");
    ledger_free(mem, 0);
}

/*
 * Simulates an owner that died inside the locked section of a
 * reservation, before or after it wrote the balance, by running a real
 * reservation and then putting the lock and the slot back as they were at
 * that instant.
 */
static void
die_inside_a_reservation(int after_the_write)
{
    void            *mem;
    fg_ledger_t     *l = ledger_with(&mem, 1000);
    fg_reservation_t r;
    int64_t          seen;
    uint64_t        *words = mem;
    size_t           i;

    expect_int_eq(fg_ledger_reserve(l, 3, KEY, "mid", NULL, 250, 1, T0, &r,
                                    &seen), 250);
    /* Find the account's lock and balance words by their values: the
     * account (128 bytes) is the only one in use; lock is word 1, balance
     * word 2. */
    for (i = 8; i < fg_ledger_bytes(64, OWNERS) / 8; i += 16) {
        if (words[i] == KEY) {
            break;
        }
    }
    words[i + 1] = 3 + 1;                         /* owner 3 holds the lock */
    if (!after_the_write) {
        words[i + 2] = 1000;                      /* balance not written */
    }
    /* The slot is in RESERVING, as between steps 2 and 4. */
    {
        uint32_t *state = (uint32_t *) ((char *) mem + 64
                          + 128 * 128 /* 128 accounts of 128 bytes */
                          + (size_t) 3 * FG_LEDGER_SLOTS_PER_OWNER * 336
                          + (size_t) r.slot * 336);  /* slots of 336 */

        *state = 1;
    }
    expect_int_eq(fg_ledger_repair(l, 3, T0, NULL, NULL),
                  after_the_write ? 1 : 0);
    expect_int_eq(fg_ledger_balance(l, 0, KEY, T0),
                  after_the_write ? 750 : 1000);
    expect_int_eq(fg_ledger_held(l, 3), 0);
    /* And the lock is free: another owner gets through at once. */
    expect_int_eq(fg_ledger_reserve(l, 4, KEY, "next", NULL, 10, 1, T0, &r,
                                    &seen), 10);
    ledger_free(mem, 0);
}

static void
death_before_the_balance_write_undoes_the_reservation(void)
{
    die_inside_a_reservation(0);
}

static void
death_after_the_balance_write_keeps_and_settles_the_reservation(void)
{
    die_inside_a_reservation(1);
}

static void
an_unknown_subject_has_no_balance_and_reserves_nothing(void)
{
    void            *mem;
    fg_ledger_t     *l = ledger_with(&mem, 1000);
    fg_reservation_t r;
    int64_t          seen;

    expect_int_eq(fg_ledger_reserve(l, 0, KEY + 1, "x", NULL, 10, 1, T0, &r,
                                    &seen), -1);
    expect_int_eq(fg_ledger_balance(l, 0, KEY + 1, T0), -1);
    ledger_free(mem, 0);
}

static void
impact_totals_add_up_exactly_per_key(void)
{
    void              *mem;
    fg_ledger_t       *l = ledger_with(&mem, 1000);
    fg_ledger_totals_t t;
    int                i;

    for (i = 0; i < 1000; i++) {
        fg_ledger_add_request(l, KEY, 1.5e-6, 0.000675, 1.1e-5);
    }
    expect_int_eq(fg_ledger_totals(l, KEY, &t), FG_OK);
    expect_int_eq(t.requests, 1000);
    expect_true(t.energy_kwh > 1.4999e-3 && t.energy_kwh < 1.5001e-3);
    expect_true(t.carbon_g_co2 > 0.6749 && t.carbon_g_co2 < 0.6751);
    expect_true(t.water_liters > 0.01099 && t.water_liters < 0.01101);
    expect_int_eq(fg_ledger_totals(l, KEY + 1, &t), FG_ERR);
    ledger_free(mem, 0);
}

static void
every_request_counts_and_tiny_impacts_are_kept(void)
{
    void              *mem;
    fg_ledger_t       *l = ledger_with(&mem, 1000);
    fg_ledger_totals_t t;
    int                i;

    /* A refusal, a failure: a usage record each, no impact. */
    fg_ledger_add_request(l, KEY, 0, 0, 0);
    fg_ledger_add_request(l, KEY, -1, 0, 0);
    /* A short request: 2e-6 L would be 2 microlitres, rounded by a half. */
    for (i = 0; i < 1000; i++) {
        fg_ledger_add_request(l, KEY, 5.32e-7, 2.5e-4, 1.6e-6);
    }
    expect_int_eq(fg_ledger_totals(l, KEY, &t), FG_OK);
    expect_int_eq(t.requests, 1002);
    expect_true(t.energy_kwh > 5.3199e-4 && t.energy_kwh < 5.3201e-4);
    expect_true(t.water_liters > 1.5999e-3 && t.water_liters < 1.6001e-3);
    ledger_free(mem, 0);
}

int
main(void)
{
    static const fg_test_case_t cases[] = {
        FG_TEST_CASE(
            a_reservation_takes_the_worst_case_and_settle_refunds_the_rest),
        FG_TEST_CASE(
            a_short_balance_reserves_what_is_left_if_it_covers_the_minimum),
        FG_TEST_CASE(a_charge_above_the_reservation_is_cut_to_it),
        FG_TEST_CASE(
            regeneration_is_exact_to_the_micro_unit_and_stops_at_the_cap),
        FG_TEST_CASE(
            a_topup_adds_to_the_live_balance_and_keeps_reservations_right),
        FG_TEST_CASE(costs_round_up_and_saturate_and_budgets_round_down),
        FG_TEST_CASE(racing_processes_never_overspend_and_the_ledger_balances),
        FG_TEST_CASE(
            a_dead_owners_held_reservation_is_settled_in_full_by_the_repair),
        FG_TEST_CASE(death_before_the_balance_write_undoes_the_reservation),
        FG_TEST_CASE(
            death_after_the_balance_write_keeps_and_settles_the_reservation),
        FG_TEST_CASE(an_unknown_subject_has_no_balance_and_reserves_nothing),
        FG_TEST_CASE(impact_totals_add_up_exactly_per_key),
        FG_TEST_CASE(every_request_counts_and_tiny_impacts_are_kept),
        FG_TEST_CASE(a_dead_owners_reservation_hands_both_ids_back_whole),
    };

    return fg_test_run("ledger", cases, sizeof(cases) / sizeof(cases[0]));
}
