/*
 * test_limiter.c: the rate limiter (common/accounts/limiter.h). Time is simulated:
 * fg_limiter_admit() takes the monotonic clock as an argument, so every
 * test states the exact instants it means and none of them sleeps.
 *
 * The single-process tests pin GCRA's arithmetic (the burst of L, the
 * refusal after it, Retry-After rounded up to the second and honoured to
 * the nanosecond, one request regained every 60 s / L), the token cost
 * (weighted, capped at the limit, corrected at settle in both directions),
 * the refunds (cancel, and a refusal by a later limit), concurrency slots
 * (held, given back by settle and by the master for a dead worker, never
 * below zero), the x-ratelimit numbers, subjects, and full tables. The
 * forked tests let four processes hammer one subject through a MAP_SHARED
 * region: exactly L admissions in total at a fixed instant, and never more
 * than N requests held at once. Nothing depends on how they interleave.
 */

#include "common/accounts/limiter.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/fg_test.h"

#define S       1000000000LL          /* one second, ns */
#define MS      1000000LL             /* one millisecond, ns */
#define W       FG_LIMITER_WINDOW_NS
#define NOW     (1000 * S)            /* an arbitrary monotonic instant */

#define SUBJECT 0x0123456789abcdefULL

/* One limiter in zeroed, 64-byte aligned private memory. */
typedef struct {
    void         *mem;
    fg_limiter_t *l;
} fixture_t;

static void
fixture_open(fixture_t *f, uint32_t max_subjects, unsigned workers)
{
    fg_err_t err;
    size_t   bytes = fg_limiter_bytes(max_subjects, workers);

    f->mem = aligned_alloc(64, (bytes + 63) & ~(size_t) 63);
    memset(f->mem, 0, bytes);
    f->l = fg_limiter_init(f->mem, bytes, max_subjects, workers, &err);
    if (f->l == NULL) {
        FG_TEST_FAIL("fg_limiter_init: %s", err.msg);
        exit(1);
    }
}

static void
fixture_close(fixture_t *f)
{
    free(f->mem);
}

static fg_limits_t
limits(int64_t rpm, int64_t tpm, int64_t concurrent)
{
    fg_limits_t lim = { rpm, tpm, concurrent };

    return lim;
}

/* Admits one request of @tokens at @now for worker 0 under @lim. */
static int
admit(fixture_t *f, uint64_t subject, fg_limits_t lim, int64_t tokens,
      int64_t now, fg_admission_t *a)
{
    return fg_limiter_admit(f->l, 0, subject, &lim, tokens, now, a);
}

/* How many of @tries requests at @now pass; stops at the first refusal. */
static int64_t
admit_until_refused(fixture_t *f, uint64_t subject, fg_limits_t lim,
                    int64_t tokens, int64_t now, int64_t tries)
{
    fg_admission_t a;
    int64_t        n;

    for (n = 0; n < tries; n++) {
        if (admit(f, subject, lim, tokens, now, &a) != FG_OK) {
            break;
        }
    }
    return n;
}

/* ---- requests per minute ---------------------------------------------- */

static void
requests_per_min_admits_exactly_the_limit_at_once(void)
{
    static const int64_t limit[] = { 1, 7, 10, 60, 600, 12345 };
    fixture_t      f;
    fg_admission_t a;
    size_t         i;

    fixture_open(&f, 16, 1);
    for (i = 0; i < sizeof(limit) / sizeof(limit[0]); i++) {
        uint64_t subject = SUBJECT + i;

        expect_int_eq(admit_until_refused(&f, subject,
                                          limits(limit[i], 0, 0), 1, NOW,
                                          2 * limit[i] + 2),
                      limit[i]);
        expect_int_eq(admit(&f, subject, limits(limit[i], 0, 0), 1, NOW, &a),
                      FG_ERR);
        expect_int_eq(a.refused, FG_LIMIT_REQUESTS);
    }
    fixture_close(&f);
}

static void
retry_after_is_the_wait_rounded_up_to_the_whole_second(void)
{
    fixture_t      f;
    fg_admission_t a;

    fixture_open(&f, 16, 1);
    /* 7 a minute: one every 8.571428571 s, so the 8th waits 9 s. */
    expect_int_eq(admit_until_refused(&f, SUBJECT, limits(7, 0, 0), 1, NOW,
                                      100), 7);
    expect_int_eq(admit(&f, SUBJECT, limits(7, 0, 0), 1, NOW, &a), FG_ERR);
    expect_int_eq(a.retry_after_s, 9);
    expect_int_eq(a.retry_after_ms, 8572);    /* exact, to the ms above */
    /* 10 a minute: exactly 6 s, which stays 6 (ceil, not floor + 1). */
    expect_int_eq(admit_until_refused(&f, SUBJECT + 1, limits(10, 0, 0), 1,
                                      NOW, 100), 10);
    expect_int_eq(admit(&f, SUBJECT + 1, limits(10, 0, 0), 1, NOW, &a),
                  FG_ERR);
    expect_int_eq(a.retry_after_s, 6);
    expect_int_eq(a.retry_after_ms, 6000);
    fixture_close(&f);
}

static void
a_request_sent_after_retry_after_is_admitted(void)
{
    fixture_t      f;
    fg_admission_t a;

    fixture_open(&f, 16, 1);
    admit_until_refused(&f, SUBJECT, limits(7, 0, 0), 1, NOW, 100);
    expect_int_eq(admit(&f, SUBJECT, limits(7, 0, 0), 1, NOW, &a), FG_ERR);
    expect_int_eq(admit(&f, SUBJECT, limits(7, 0, 0), 1,
                        NOW + a.retry_after_s * S, &a), FG_OK);
    fixture_close(&f);
}

static void
a_refused_request_passes_at_the_exact_nanosecond_of_its_turn(void)
{
    fixture_t      f;
    fg_admission_t a;
    int64_t        step = W / 7;   /* what one request moves GCRA by */

    fixture_open(&f, 16, 1);
    admit_until_refused(&f, SUBJECT, limits(7, 0, 0), 1, NOW, 100);
    /* 7 steps are spent; the 8th fits once now + W reaches 8 steps. */
    expect_int_eq(admit(&f, SUBJECT, limits(7, 0, 0), 1,
                        NOW + 8 * step - W - 1, &a), FG_ERR);
    expect_int_eq(admit(&f, SUBJECT, limits(7, 0, 0), 1,
                        NOW + 8 * step - W, &a), FG_OK);
    fixture_close(&f);
}

static void
a_refusal_does_not_move_the_next_turn(void)
{
    fixture_t      f;
    fg_admission_t a;
    int            i;

    fixture_open(&f, 16, 1);
    admit_until_refused(&f, SUBJECT, limits(10, 0, 0), 1, NOW, 100);
    for (i = 0; i < 1000; i++) {
        expect_int_eq(admit(&f, SUBJECT, limits(10, 0, 0), 1, NOW + i * MS,
                            &a), FG_ERR);
    }
    expect_int_eq(admit(&f, SUBJECT, limits(10, 0, 0), 1, NOW + 6 * S, &a),
                  FG_OK);
    fixture_close(&f);
}

/*
 * A client sending four times faster than allowed, from a fresh subject,
 * for five simulated minutes, one request every 1.5 s under 10 a minute.
 * Returns how many passed; @at receives their instants.
 */
static int
steady_over_rate_stream(fixture_t *f, int64_t *at, int max)
{
    fg_admission_t a;
    int64_t        t;
    int            n = 0;

    for (t = NOW; t < NOW + 5 * W && n < max; t += 1500 * MS) {
        if (admit(f, SUBJECT, limits(10, 0, 0), 1, t, &a) == FG_OK) {
            at[n++] = t;
        }
    }
    return n;
}

static void
after_the_burst_a_steady_stream_gets_one_request_per_interval(void)
{
    fixture_t f;
    int64_t   at[256];
    int       i, n, in_third_minute = 0;

    fixture_open(&f, 16, 1);
    n = steady_over_rate_stream(&f, at, 256);
    for (i = 0; i < n; i++) {
        if (at[i] >= NOW + W) {
            expect_true(at[i] - at[i - 1] >= W / 10);
        }
        in_third_minute += at[i] >= NOW + 2 * W && at[i] < NOW + 3 * W;
    }
    expect_int_eq(in_third_minute, 10);
    fixture_close(&f);
}

static void
over_any_stretch_of_t_at_most_limit_plus_limit_times_t_per_minute_pass(void)
{
    fixture_t f;
    int64_t   at[256];
    int       i, j, n;

    fixture_open(&f, 16, 1);
    n = steady_over_rate_stream(&f, at, 256);
    /* The burst of L, then one per W / L: in [at[i], at[j]] at most
     * L + (at[j] - at[i]) * L / W requests (docs/api.md). */
    for (i = 0; i < n; i++) {
        for (j = i; j < n; j++) {
            int64_t bound = 10 + (at[j] - at[i]) * 10 / W;

            if (j - i + 1 > bound) {
                FG_TEST_FAIL("%d requests in %lld ms, at most %lld allowed",
                             j - i + 1, (long long) ((at[j] - at[i]) / MS),
                             (long long) bound);
                i = n;
                break;
            }
        }
    }
    fixture_close(&f);
}

/* ---- tokens per minute ------------------------------------------------ */

static void
tokens_per_min_weighs_each_request_by_its_tokens(void)
{
    fixture_t      f;
    fg_admission_t a;

    fixture_open(&f, 16, 1);
    expect_int_eq(admit(&f, SUBJECT, limits(0, 1000, 0), 400, NOW, &a),
                  FG_OK);
    expect_int_eq(a.tokens_charged, 400);
    expect_int_eq(admit(&f, SUBJECT, limits(0, 1000, 0), 400, NOW, &a),
                  FG_OK);
    expect_int_eq(admit(&f, SUBJECT, limits(0, 1000, 0), 400, NOW, &a),
                  FG_ERR);
    expect_int_eq(a.refused, FG_LIMIT_TOKENS);
    /* 200 more tokens: 200 * 60 ms of waiting. */
    expect_int_eq(a.retry_after_s, 12);
    expect_int_eq(admit(&f, SUBJECT, limits(0, 1000, 0), 200, NOW, &a),
                  FG_OK);
    expect_int_eq(admit(&f, SUBJECT, limits(0, 1000, 0), 1, NOW, &a),
                  FG_ERR);
    fixture_close(&f);
}

static void
a_request_over_the_whole_quota_passes_alone_charged_the_quota(void)
{
    fixture_t      f;
    fg_admission_t a;

    fixture_open(&f, 16, 1);
    expect_int_eq(admit(&f, SUBJECT, limits(0, 1000, 0), 5000, NOW, &a),
                  FG_OK);
    expect_int_eq(a.tokens_charged, 1000);
    expect_int_eq(admit(&f, SUBJECT, limits(0, 1000, 0), 1, NOW, &a),
                  FG_ERR);
    /* Charged the quota, not 5000: whole again a minute later. */
    expect_int_eq(admit(&f, SUBJECT, limits(0, 1000, 0), 5000, NOW + W, &a),
                  FG_OK);
    fixture_close(&f);
}

static void
a_request_over_the_whole_quota_waits_for_a_full_bucket(void)
{
    fixture_t      f;
    fg_admission_t a;

    fixture_open(&f, 16, 1);
    expect_int_eq(admit(&f, SUBJECT, limits(0, 1000, 0), 1, NOW, &a), FG_OK);
    expect_int_eq(admit(&f, SUBJECT, limits(0, 1000, 0), 5000, NOW, &a),
                  FG_ERR);
    expect_int_eq(a.refused, FG_LIMIT_TOKENS);
    expect_int_eq(admit(&f, SUBJECT, limits(0, 1000, 0), 5000,
                        NOW + 60 * MS, &a), FG_OK);
    fixture_close(&f);
}

static void
settling_below_the_estimate_gives_the_difference_back(void)
{
    fixture_t      f;
    fg_admission_t a;

    fixture_open(&f, 16, 1);
    expect_int_eq(admit(&f, SUBJECT, limits(0, 1000, 0), 600, NOW, &a),
                  FG_OK);
    fg_limiter_settle(f.l, 0, &a, 100);
    expect_int_eq(admit(&f, SUBJECT, limits(0, 1000, 0), 900, NOW, &a),
                  FG_OK);
    expect_int_eq(admit(&f, SUBJECT, limits(0, 1000, 0), 1, NOW, &a),
                  FG_ERR);
    fixture_close(&f);
}

static void
settling_above_the_estimate_charges_the_difference(void)
{
    fixture_t      f;
    fg_admission_t a;

    fixture_open(&f, 16, 1);
    expect_int_eq(admit(&f, SUBJECT, limits(0, 1000, 0), 500, NOW, &a),
                  FG_OK);
    fg_limiter_settle(f.l, 0, &a, 900);
    expect_int_eq(admit(&f, SUBJECT, limits(0, 1000, 0), 200, NOW, &a),
                  FG_ERR);
    expect_int_eq(admit(&f, SUBJECT, limits(0, 1000, 0), 100, NOW, &a),
                  FG_OK);
    fixture_close(&f);
}

static void
settling_above_the_quota_pushes_the_next_turn_past_a_minute(void)
{
    fixture_t      f;
    fg_admission_t a;

    fixture_open(&f, 16, 1);
    expect_int_eq(admit(&f, SUBJECT, limits(0, 100, 0), 100, NOW, &a),
                  FG_OK);
    fg_limiter_settle(f.l, 0, &a, 200);
    expect_int_eq(admit(&f, SUBJECT, limits(0, 100, 0), 1, NOW, &a), FG_ERR);
    expect_int_eq(a.retry_after_s, 61);
    expect_int_eq(a.tokens_reset_ms, 120000);
    expect_int_eq(admit(&f, SUBJECT, limits(0, 100, 0), 1, NOW + 61 * S, &a),
                  FG_OK);
    fixture_close(&f);
}

static void
settling_with_no_usage_keeps_the_estimate(void)
{
    fixture_t      f;
    fg_admission_t a;

    fixture_open(&f, 16, 1);
    expect_int_eq(admit(&f, SUBJECT, limits(0, 1000, 0), 500, NOW, &a),
                  FG_OK);
    fg_limiter_settle(f.l, 0, &a, -1);
    expect_int_eq(admit(&f, SUBJECT, limits(0, 1000, 0), 501, NOW, &a),
                  FG_ERR);
    expect_int_eq(admit(&f, SUBJECT, limits(0, 1000, 0), 500, NOW, &a),
                  FG_OK);
    fixture_close(&f);
}

/* ---- refunds ---------------------------------------------------------- */

static void
cancel_refunds_the_request_the_tokens_and_the_slot(void)
{
    fixture_t      f;
    fg_admission_t a, again;

    fixture_open(&f, 16, 1);
    expect_int_eq(admit(&f, SUBJECT, limits(1, 100, 1), 100, NOW, &a), FG_OK);
    expect_int_eq(fg_limiter_held(f.l, 0), 1);
    fg_limiter_cancel(f.l, 0, &a);
    expect_int_eq(fg_limiter_held(f.l, 0), 0);
    expect_int_eq(admit(&f, SUBJECT, limits(1, 100, 1), 100, NOW, &again),
                  FG_OK);
    expect_int_eq(again.requests_remaining, a.requests_remaining);
    expect_int_eq(again.tokens_remaining, a.tokens_remaining);
    fixture_close(&f);
}

static void
a_request_refused_by_its_tokens_costs_no_request_and_no_slot(void)
{
    fixture_t      f;
    fg_admission_t a;

    fixture_open(&f, 16, 1);
    expect_int_eq(admit(&f, SUBJECT, limits(2, 100, 1), 100, NOW, &a), FG_OK);
    fg_limiter_settle(f.l, 0, &a, -1);
    /* Concurrency and requests pass; tokens refuse and give them back. */
    expect_int_eq(admit(&f, SUBJECT, limits(2, 100, 1), 50, NOW, &a),
                  FG_ERR);
    expect_int_eq(a.refused, FG_LIMIT_TOKENS);
    expect_int_eq(a.slot, -1);
    expect_int_eq(fg_limiter_held(f.l, 0), 0);
    /* The second of the two requests is still there. */
    expect_int_eq(admit(&f, SUBJECT, limits(2, 0, 0), 1, NOW, &a), FG_OK);
    expect_int_eq(a.requests_remaining, 0);
    expect_int_eq(admit(&f, SUBJECT, limits(2, 0, 0), 1, NOW, &a), FG_ERR);
    fixture_close(&f);
}

static void
cancelling_the_key_when_the_model_refuses_costs_it_nothing(void)
{
    fixture_t      f;
    fg_admission_t key, model;
    uint64_t       key_subject = fg_limiter_subject("key_00000000000000aa");
    uint64_t       model_subject = fg_limiter_subject("model:limited");

    fixture_open(&f, 16, 1);
    /* The model's one request a minute is spent by someone else. */
    expect_int_eq(admit(&f, model_subject, limits(1, 0, 0), 1, NOW, &model),
                  FG_OK);
    /* admit.c's order: the key first, then the model, which refuses. */
    expect_int_eq(admit(&f, key_subject, limits(1, 1000, 1), 10, NOW, &key),
                  FG_OK);
    expect_int_eq(admit(&f, model_subject, limits(1, 0, 0), 1, NOW, &model),
                  FG_ERR);
    fg_limiter_cancel(f.l, 0, &key);
    expect_int_eq(fg_limiter_held(f.l, 0), 0);
    expect_int_eq(admit(&f, key_subject, limits(1, 1000, 1), 1000, NOW, &key),
                  FG_OK);
    fixture_close(&f);
}

/* ---- concurrency ------------------------------------------------------ */

static void
at_most_max_concurrent_requests_are_held_at_once(void)
{
    fixture_t      f;
    fg_admission_t a[4];

    fixture_open(&f, 16, 1);
    expect_int_eq(admit(&f, SUBJECT, limits(0, 0, 3), 1, NOW, &a[0]), FG_OK);
    expect_int_eq(admit(&f, SUBJECT, limits(0, 0, 3), 1, NOW, &a[1]), FG_OK);
    expect_int_eq(admit(&f, SUBJECT, limits(0, 0, 3), 1, NOW, &a[2]), FG_OK);
    expect_int_eq(admit(&f, SUBJECT, limits(0, 0, 3), 1, NOW, &a[3]),
                  FG_ERR);
    expect_int_eq(a[3].refused, FG_LIMIT_CONCURRENCY);
    expect_int_eq(a[3].retry_after_s, 1);
    expect_int_eq(fg_limiter_held(f.l, 0), 3);
    fixture_close(&f);
}

static void
settling_a_request_frees_its_slot(void)
{
    fixture_t      f;
    fg_admission_t a[3], next;

    fixture_open(&f, 16, 1);
    admit(&f, SUBJECT, limits(0, 0, 3), 1, NOW, &a[0]);
    admit(&f, SUBJECT, limits(0, 0, 3), 1, NOW, &a[1]);
    admit(&f, SUBJECT, limits(0, 0, 3), 1, NOW, &a[2]);
    fg_limiter_settle(f.l, 0, &a[1], -1);
    expect_int_eq(fg_limiter_held(f.l, 0), 2);
    expect_int_eq(admit(&f, SUBJECT, limits(0, 0, 3), 1, NOW, &next), FG_OK);
    expect_int_eq(admit(&f, SUBJECT, limits(0, 0, 3), 1, NOW, &next),
                  FG_ERR);
    fixture_close(&f);
}

static void
max_concurrent_counts_the_slots_of_every_worker(void)
{
    fixture_t      f;
    fg_limits_t    lim = limits(0, 0, 3);
    fg_admission_t a;

    fixture_open(&f, 16, 3);
    expect_int_eq(fg_limiter_admit(f.l, 0, SUBJECT, &lim, 1, NOW, &a), FG_OK);
    expect_int_eq(fg_limiter_admit(f.l, 1, SUBJECT, &lim, 1, NOW, &a), FG_OK);
    expect_int_eq(fg_limiter_admit(f.l, 1, SUBJECT, &lim, 1, NOW, &a), FG_OK);
    expect_int_eq(fg_limiter_admit(f.l, 2, SUBJECT, &lim, 1, NOW, &a),
                  FG_ERR);
    expect_int_eq(fg_limiter_held(f.l, 0), 1);
    expect_int_eq(fg_limiter_held(f.l, 1), 2);
    expect_int_eq(fg_limiter_held(f.l, 2), 0);
    fixture_close(&f);
}

static void
releasing_a_dead_worker_gives_back_its_slots(void)
{
    fixture_t      f;
    fg_limits_t    lim = limits(0, 0, 3);
    fg_admission_t a;

    fixture_open(&f, 16, 2);
    fg_limiter_admit(f.l, 1, SUBJECT, &lim, 1, NOW, &a);
    fg_limiter_admit(f.l, 1, SUBJECT, &lim, 1, NOW, &a);
    fg_limiter_admit(f.l, 1, SUBJECT + 1, &lim, 1, NOW, &a);
    expect_int_eq(fg_limiter_admit(f.l, 0, SUBJECT, &lim, 1, NOW, &a), FG_OK);
    fg_limiter_settle(f.l, 0, &a, -1);
    /* Worker 1 dies holding three slots on two subjects. */
    expect_int_eq(fg_limiter_release_worker(f.l, 1), 3);
    expect_int_eq(fg_limiter_held(f.l, 1), 0);
    expect_int_eq(admit_until_refused(&f, SUBJECT, lim, 1, NOW, 10), 3);
    expect_int_eq(admit_until_refused(&f, SUBJECT + 1, lim, 1, NOW, 10), 3);
    fixture_close(&f);
}

static void
a_concurrency_counter_never_goes_below_zero(void)
{
    fixture_t      f;
    fg_limits_t    lim = limits(0, 0, 3);
    fg_admission_t held[3];
    int            i;

    fixture_open(&f, 16, 2);
    for (i = 0; i < 3; i++) {
        fg_limiter_admit(f.l, 1, SUBJECT, &lim, 1, NOW, &held[i]);
    }
    expect_int_eq(fg_limiter_release_worker(f.l, 1), 3);
    expect_int_eq(fg_limiter_release_worker(f.l, 1), 0);
    /* The same slots given back a second time, as if the dead worker's
     * requests had been settled too: the counter stays at zero... */
    for (i = 0; i < 3; i++) {
        fg_limiter_settle(f.l, 1, &held[i], -1);
    }
    /* ...so the limit is still 3, not 6. */
    expect_int_eq(admit_until_refused(&f, SUBJECT, lim, 1, NOW, 10), 3);
    fixture_close(&f);
}

static void
a_full_slot_table_refuses_as_concurrency(void)
{
    fixture_t      f;
    fg_limits_t    lim = limits(0, 0, 1 << 20);
    fg_admission_t a;

    fixture_open(&f, 16, 2);
    expect_int_eq(admit_until_refused(&f, SUBJECT, lim, 1, NOW,
                                      FG_LIMITER_SLOTS_PER_WORKER + 10),
                  FG_LIMITER_SLOTS_PER_WORKER);
    expect_int_eq(admit(&f, SUBJECT, lim, 1, NOW, &a), FG_ERR);
    expect_int_eq(a.refused, FG_LIMIT_CONCURRENCY);
    expect_int_eq(fg_limiter_held(f.l, 0), FG_LIMITER_SLOTS_PER_WORKER);
    /* Another worker has a table of its own. */
    expect_int_eq(fg_limiter_admit(f.l, 1, SUBJECT, &lim, 1, NOW, &a), FG_OK);
    fixture_close(&f);
}

/* ---- what the headers say --------------------------------------------- */

static void
each_admission_reports_the_requests_remaining_and_the_reset(void)
{
    fixture_t      f;
    fg_admission_t a;
    int            k;

    fixture_open(&f, 16, 1);
    for (k = 1; k <= 10; k++) {
        expect_int_eq(admit(&f, SUBJECT, limits(10, 0, 0), 1, NOW, &a),
                      FG_OK);
        expect_int_eq(a.requests_limit, 10);
        expect_int_eq(a.requests_remaining, 10 - k);
        expect_int_eq(a.requests_reset_ms, 6000 * k);
    }
    expect_int_eq(admit(&f, SUBJECT, limits(10, 0, 0), 1, NOW, &a), FG_ERR);
    expect_int_eq(a.requests_limit, 10);
    expect_int_eq(a.requests_remaining, 0);
    expect_int_eq(a.requests_reset_ms, 60000);
    fixture_close(&f);
}

static void
the_reported_reset_shrinks_as_time_passes(void)
{
    fixture_t      f;
    fg_admission_t a;

    fixture_open(&f, 16, 1);
    admit(&f, SUBJECT, limits(10, 0, 0), 1, NOW, &a);
    /* 3 s later: 3 s of the first step left, plus a whole second step. */
    expect_int_eq(admit(&f, SUBJECT, limits(10, 0, 0), 1, NOW + 3 * S, &a),
                  FG_OK);
    expect_int_eq(a.requests_reset_ms, 9000);
    expect_int_eq(a.requests_remaining, 8);
    /* Idle for longer than the window: whole again. */
    expect_int_eq(admit(&f, SUBJECT, limits(10, 0, 0), 1, NOW + 10 * W, &a),
                  FG_OK);
    expect_int_eq(a.requests_reset_ms, 6000);
    expect_int_eq(a.requests_remaining, 9);
    fixture_close(&f);
}

static void
each_admission_reports_the_tokens_remaining_and_the_reset(void)
{
    fixture_t      f;
    fg_admission_t a;

    fixture_open(&f, 16, 1);
    expect_int_eq(admit(&f, SUBJECT, limits(100, 1000, 0), 250, NOW, &a),
                  FG_OK);
    expect_int_eq(a.tokens_limit, 1000);
    expect_int_eq(a.tokens_remaining, 750);
    expect_int_eq(a.tokens_reset_ms, 15000);
    expect_int_eq(a.requests_limit, 100);
    expect_int_eq(a.requests_remaining, 99);
    expect_int_eq(a.requests_reset_ms, 600);
    fixture_close(&f);
}

static void
an_unlimited_subject_is_admitted_and_holds_nothing(void)
{
    fixture_t      f;
    fg_admission_t a;
    int            i;

    fixture_open(&f, 16, 1);
    for (i = 0; i < 1000; i++) {
        expect_int_eq(admit(&f, SUBJECT, limits(0, 0, 0), 1 << 30, NOW, &a),
                      FG_OK);
    }
    expect_int_eq(a.requests_limit, 0);
    expect_int_eq(a.tokens_limit, 0);
    expect_int_eq(a.slot, -1);
    expect_int_eq(fg_limiter_held(f.l, 0), 0);
    fixture_close(&f);
}

/* ---- subjects --------------------------------------------------------- */

static void
a_key_id_is_its_own_subject(void)
{
    expect_true(fg_limiter_subject("key_0123456789abcdef")
                == 0x0123456789abcdefULL);
    expect_true(fg_limiter_subject("key_00000000000000ff") == 0xffULL);
    /* All 64 bits: the id can be written back from the subject. */
    expect_true(fg_limiter_subject("key_f123456789abcdef")
                == 0xf123456789abcdefULL);
}

static void
other_names_are_hashed_with_the_high_bit_set(void)
{
    static const char *names[] = {
        "model:demo-chat", "provider:demo", "", "key_", "key_0123",
        "key_0123456789ABCDEF", "key_0123456789abcdefg",
        "key_0123456789abcdeg",
    };
    size_t i, j;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        uint64_t s = fg_limiter_subject(names[i]);

        expect_true((s >> 63) == 1);
        for (j = 0; j < i; j++) {
            expect_true(s != fg_limiter_subject(names[j]));
        }
    }
    expect_true(fg_limiter_subject("model:demo-chat")
                == fg_limiter_subject("model:demo-chat"));
}

static void
no_subject_is_zero(void)
{
    expect_true(fg_limiter_subject("key_0000000000000000") != 0);
    expect_true(fg_limiter_subject("key_8000000000000000") != 0);
    expect_true(fg_limiter_subject("") != 0);
}

static void
a_full_subject_table_refuses_new_subjects_as_concurrency(void)
{
    fixture_t      f;
    fg_admission_t a;
    uint64_t       s;

    fixture_open(&f, 100, 1);
    /* Room for at least twice the subjects asked for (limiter.h). */
    for (s = 1; s <= 100000; s++) {
        if (admit(&f, s, limits(1000, 0, 0), 1, NOW, &a) != FG_OK) {
            break;
        }
    }
    expect_true(s - 1 >= 200 && s <= 100000);
    expect_int_eq(a.refused, FG_LIMIT_CONCURRENCY);
    expect_int_eq(a.retry_after_s, 1);
    /* Subjects already in keep working; unlimited ones need no room. */
    expect_int_eq(admit(&f, 1, limits(1000, 0, 0), 1, NOW, &a), FG_OK);
    expect_int_eq(admit(&f, s + 1, limits(0, 0, 0), 1, NOW, &a), FG_OK);
    expect_int_eq(admit(&f, s + 1, limits(1000, 0, 0), 1, NOW, &a), FG_ERR);
    fixture_close(&f);
}

static void
a_worker_outside_the_region_is_refused(void)
{
    fixture_t      f;
    fg_limits_t    lim = limits(10, 0, 0);
    fg_admission_t a;

    fixture_open(&f, 16, 2);
    expect_int_eq(fg_limiter_admit(f.l, 2, SUBJECT, &lim, 1, NOW, &a),
                  FG_ERR);
    expect_int_eq(fg_limiter_release_worker(f.l, 2), 0);
    fixture_close(&f);
}

/* ---- several processes ------------------------------------------------ */

#define CHILDREN 4

/* What the children share besides the limiter: a start line, their
 * counts and the most requests seen held at once. */
typedef struct {
    _Atomic int     ready;
    _Atomic int     go;
    _Atomic int64_t admitted[CHILDREN];
    _Atomic int64_t refused[CHILDREN];
    _Atomic int     holding;
    _Atomic int     most_holding;
} shared_t;

static void *
map_shared(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED) {
        fprintf(stderr, "mmap(MAP_SHARED|MAP_ANONYMOUS, %zu) failed: %s\n",
                bytes, strerror(errno));
        exit(1);
    }
    return p;
}

/* Every child waits for the others, so they really run at once. */
static void
child_start(shared_t *sh)
{
    atomic_fetch_add(&sh->ready, 1);
    while (atomic_load(&sh->go) == 0) {
        sched_yield();
    }
}

/* Forks CHILDREN processes running @fn(l, worker, sh), starts them
 * together and waits for them all; they exit 0 unless something failed. */
static void
run_children(fg_limiter_t *l, shared_t *sh,
             int (*fn)(fg_limiter_t *, unsigned, shared_t *))
{
    pid_t pid[CHILDREN];
    int   i, status;

    fflush(stdout);
    fflush(stderr);
    for (i = 0; i < CHILDREN; i++) {
        pid[i] = fork();
        if (pid[i] < 0) {
            FG_TEST_FAIL("fork failed: %s", strerror(errno));
            exit(1);
        }
        if (pid[i] == 0) {
            child_start(sh);
            _exit(fn(l, (unsigned) i, sh));
        }
    }
    while (atomic_load(&sh->ready) < CHILDREN) {
        sched_yield();
    }
    atomic_store(&sh->go, 1);
    for (i = 0; i < CHILDREN; i++) {
        if (waitpid(pid[i], &status, 0) != pid[i]) {
            FG_TEST_FAIL("waitpid(%d) failed: %s", (int) pid[i],
                         strerror(errno));
            continue;
        }
        expect_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
}

#define HAMMER_LIMIT  50000
#define HAMMER_TRIES  25000

static int
hammer_requests(fg_limiter_t *l, unsigned worker, shared_t *sh)
{
    fg_limits_t    lim = limits(HAMMER_LIMIT, 0, 0);
    fg_admission_t a;
    int            i;

    for (i = 0; i < HAMMER_TRIES; i++) {
        if (fg_limiter_admit(l, worker, SUBJECT, &lim, 1, NOW, &a) == FG_OK) {
            atomic_fetch_add(&sh->admitted[worker], 1);
        } else {
            atomic_fetch_add(&sh->refused[worker], 1);
        }
    }
    return 0;
}

static void
processes_sharing_the_region_admit_exactly_the_limit_in_total(void)
{
    size_t       bytes = fg_limiter_bytes(16, CHILDREN + 1);
    void        *mem = map_shared(bytes);
    shared_t    *sh = map_shared(sizeof(shared_t));
    fg_limiter_t *l;
    fg_err_t     err;
    int64_t      admitted = 0, refused = 0;
    int          i;

    l = fg_limiter_init(mem, bytes, 16, CHILDREN + 1, &err);
    run_children(l, sh, hammer_requests);
    for (i = 0; i < CHILDREN; i++) {
        admitted += atomic_load(&sh->admitted[i]);
        refused += atomic_load(&sh->refused[i]);
    }
    expect_int_eq(admitted, HAMMER_LIMIT);
    expect_int_eq(refused, CHILDREN * HAMMER_TRIES - HAMMER_LIMIT);
    munmap(sh, sizeof(shared_t));
    munmap(mem, bytes);
}

#define HOLD_MAX    3
#define HOLD_ROUNDS 20000

static int
take_and_settle(fg_limiter_t *l, unsigned worker, shared_t *sh)
{
    fg_limits_t    lim = limits(0, 0, HOLD_MAX);
    fg_admission_t a;
    int            i, j, now_holding, most;

    for (i = 0; i < HOLD_ROUNDS; i++) {
        if (fg_limiter_admit(l, worker, SUBJECT, &lim, 1, NOW, &a) != FG_OK) {
            atomic_fetch_add(&sh->refused[worker], 1);
            continue;
        }
        atomic_fetch_add(&sh->admitted[worker], 1);
        now_holding = atomic_fetch_add(&sh->holding, 1) + 1;
        most = atomic_load(&sh->most_holding);
        while (now_holding > most
               && !atomic_compare_exchange_weak(&sh->most_holding, &most,
                                                now_holding)) {
        }
        for (j = 0; j < (i & 7); j++) {
            sched_yield();
        }
        atomic_fetch_sub(&sh->holding, 1);
        fg_limiter_settle(l, worker, &a, -1);
    }
    return fg_limiter_held(l, worker) == 0 ? 0 : 1;
}

static void
processes_sharing_the_region_never_exceed_max_concurrent(void)
{
    size_t        bytes = fg_limiter_bytes(16, CHILDREN + 1);
    void         *mem = map_shared(bytes);
    shared_t     *sh = map_shared(sizeof(shared_t));
    fg_limiter_t *l;
    fg_limits_t   lim = limits(0, 0, HOLD_MAX);
    fg_admission_t a;
    fg_err_t      err;
    int64_t       admitted = 0;
    int           i;

    l = fg_limiter_init(mem, bytes, 16, CHILDREN + 1, &err);
    run_children(l, sh, take_and_settle);
    for (i = 0; i < CHILDREN; i++) {
        admitted += atomic_load(&sh->admitted[i]);
    }
    expect_true(admitted > 0);
    expect_true(atomic_load(&sh->most_holding) <= HOLD_MAX);
    /* Everything was given back: the parent (another worker) gets all
     * HOLD_MAX slots and no more. */
    for (i = 0; i < HOLD_MAX; i++) {
        expect_int_eq(fg_limiter_admit(l, CHILDREN, SUBJECT, &lim, 1, NOW,
                                       &a), FG_OK);
    }
    expect_int_eq(fg_limiter_admit(l, CHILDREN, SUBJECT, &lim, 1, NOW, &a),
                  FG_ERR);
    munmap(sh, sizeof(shared_t));
    munmap(mem, bytes);
}

FG_TEST_MAIN("limiter",
    FG_TEST_CASE(requests_per_min_admits_exactly_the_limit_at_once),
    FG_TEST_CASE(retry_after_is_the_wait_rounded_up_to_the_whole_second),
    FG_TEST_CASE(a_request_sent_after_retry_after_is_admitted),
    FG_TEST_CASE(a_refused_request_passes_at_the_exact_nanosecond_of_its_turn),
    FG_TEST_CASE(a_refusal_does_not_move_the_next_turn),
    FG_TEST_CASE(after_the_burst_a_steady_stream_gets_one_request_per_interval),
    FG_TEST_CASE(
            over_any_stretch_of_t_at_most_limit_plus_limit_times_t_per_minute_pass),
    FG_TEST_CASE(tokens_per_min_weighs_each_request_by_its_tokens),
    FG_TEST_CASE(a_request_over_the_whole_quota_passes_alone_charged_the_quota),
    FG_TEST_CASE(a_request_over_the_whole_quota_waits_for_a_full_bucket),
    FG_TEST_CASE(settling_below_the_estimate_gives_the_difference_back),
    FG_TEST_CASE(settling_above_the_estimate_charges_the_difference),
    FG_TEST_CASE(settling_above_the_quota_pushes_the_next_turn_past_a_minute),
    FG_TEST_CASE(settling_with_no_usage_keeps_the_estimate),
    FG_TEST_CASE(cancel_refunds_the_request_the_tokens_and_the_slot),
    FG_TEST_CASE(a_request_refused_by_its_tokens_costs_no_request_and_no_slot),
    FG_TEST_CASE(cancelling_the_key_when_the_model_refuses_costs_it_nothing),
    FG_TEST_CASE(at_most_max_concurrent_requests_are_held_at_once),
    FG_TEST_CASE(settling_a_request_frees_its_slot),
    FG_TEST_CASE(max_concurrent_counts_the_slots_of_every_worker),
    FG_TEST_CASE(releasing_a_dead_worker_gives_back_its_slots),
    FG_TEST_CASE(a_concurrency_counter_never_goes_below_zero),
    FG_TEST_CASE(a_full_slot_table_refuses_as_concurrency),
    FG_TEST_CASE(each_admission_reports_the_requests_remaining_and_the_reset),
    FG_TEST_CASE(the_reported_reset_shrinks_as_time_passes),
    FG_TEST_CASE(each_admission_reports_the_tokens_remaining_and_the_reset),
    FG_TEST_CASE(an_unlimited_subject_is_admitted_and_holds_nothing),
    FG_TEST_CASE(a_key_id_is_its_own_subject),
    FG_TEST_CASE(other_names_are_hashed_with_the_high_bit_set),
    FG_TEST_CASE(no_subject_is_zero),
    FG_TEST_CASE(a_full_subject_table_refuses_new_subjects_as_concurrency),
    FG_TEST_CASE(a_worker_outside_the_region_is_refused),
    FG_TEST_CASE(processes_sharing_the_region_admit_exactly_the_limit_in_total),
    FG_TEST_CASE(processes_sharing_the_region_never_exceed_max_concurrent))
