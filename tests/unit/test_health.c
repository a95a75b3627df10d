/*
 * test_health.c: the endpoints' health table (common/route/health.h) on a
 * fake clock: the circuit breaker's states and thresholds, the probe and
 * its expiry, the cool-down, the averages and counters, binding keys, the
 * published listing, and exact counts under two processes at once.
 */

#include "common/route/health.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/base/errors.h"
#include "tests/unit/fg_test.h"

/* failures 3, 50 % over >= 10 attempts in 60 s, open 30 s */
static const fg_health_conf_t conf = { 3, 50, 10, 60000, 30000 };

static fg_health_t *
table_new(size_t capacity)
{
    void *mem = aligned_alloc(64, fg_health_size(capacity));

    return fg_health_init(mem, capacity);
}

/* A table with one bound endpoint, at slot 0. */
static fg_health_t *
one_endpoint(void)
{
    fg_health_t *h = table_new(16);

    fg_health_bind(h, "demo", "demo-model");
    return h;
}

static void
fail(fg_health_t *h, int slot, int64_t now)
{
    fg_health_end(h, slot, &conf, now, FG_ATTEMPT_STATUS, 0, 1, -1, -1);
}

static void
succeed(fg_health_t *h, int slot, int64_t now)
{
    fg_health_end(h, slot, &conf, now, FG_ATTEMPT_STATUS, 1, 0, -1, -1);
}

static fg_circuit_t
state(const fg_health_t *h, int slot, int64_t now)
{
    fg_health_view_t v;

    expect_int_eq(fg_health_read(h, slot, &conf, now, &v), FG_OK);
    return v.state;
}

/* Opens slot 0 at @now with conf.failures failures. */
static void
open_at(fg_health_t *h, int64_t now)
{
    int i;

    for (i = 0; i < conf.failures; i++) {
        fail(h, 0, now);
    }
}

static void
a_new_endpoint_is_closed_and_available(void)
{
    fg_health_t *h = one_endpoint();
    int64_t      at = -7;

    expect_int_eq(state(h, 0, 1000), FG_CIRCUIT_CLOSED);
    expect_int_eq(fg_health_available(h, 0, &conf, 1000, &at), 1);
    expect_int_eq(at, -7);
    expect_int_eq(fg_health_begin(h, 0, &conf, 1000), 1);
    free(h);
}

static void
consecutive_failures_open_the_circuit(void)
{
    fg_health_t *h = one_endpoint();

    fail(h, 0, 1000);
    fail(h, 0, 1000);
    expect_int_eq(state(h, 0, 1000), FG_CIRCUIT_CLOSED);
    fail(h, 0, 1000);
    expect_int_eq(state(h, 0, 1000), FG_CIRCUIT_OPEN);
    free(h);
}

static void
a_success_resets_the_consecutive_failures(void)
{
    fg_health_t     *h = one_endpoint();
    fg_health_view_t v;

    fail(h, 0, 1000);
    fail(h, 0, 1000);
    succeed(h, 0, 1000);
    fail(h, 0, 1000);
    fail(h, 0, 1000);
    fg_health_read(h, 0, &conf, 1000, &v);
    expect_int_eq(v.state, FG_CIRCUIT_CLOSED);
    expect_int_eq(v.consecutive_failures, 2);
    free(h);
}

static void
the_error_rate_opens_it_only_after_min_requests(void)
{
    fg_health_t *h = one_endpoint();
    int          i;

    /* 2 of every 4 fail: 50 %, never 3 in a row. */
    for (i = 0; i < 8; i++) {
        if (i % 2 == 0) {
            fail(h, 0, 1000);
        } else {
            succeed(h, 0, 1000);
        }
    }
    expect_int_eq(state(h, 0, 1000), FG_CIRCUIT_CLOSED);   /* 8 < 10 */
    succeed(h, 0, 1000);
    fail(h, 0, 1000);                                      /* 5 of 10 */
    expect_int_eq(state(h, 0, 1000), FG_CIRCUIT_OPEN);
    free(h);
}

static void
the_previous_window_counts_by_the_part_still_in_the_sliding_one(void)
{
    fg_health_t     *h = one_endpoint();
    fg_health_view_t v;
    int              i;

    for (i = 0; i < 10; i++) {
        succeed(h, 0, 59000);                /* window 0 */
    }
    fail(h, 0, 60000 + 15000);               /* window 1, a quarter in */
    fg_health_read(h, 0, &conf, 75000, &v);
    expect_int_eq(v.window_attempts, 1 + 10 * 3 / 4);
    expect_int_eq(v.window_failures, 1);
    fg_health_read(h, 0, &conf, 120000, &v); /* window 2: 0 is gone */
    expect_int_eq(v.window_attempts, 1);
    free(h);
}

static void
an_open_circuit_is_unavailable_until_open_ms_have_passed(void)
{
    fg_health_t *h = one_endpoint();
    int64_t      at = 0;

    open_at(h, 1000);
    expect_int_eq(fg_health_available(h, 0, &conf, 1000, &at), 0);
    expect_int_eq(at, 1000 + conf.open_ms);
    expect_int_eq(fg_health_begin(h, 0, &conf, 30999), 0);
    free(h);
}

static void
after_open_ms_it_reads_half_open_and_available(void)
{
    fg_health_t *h = one_endpoint();

    open_at(h, 1000);
    expect_int_eq(state(h, 0, 31000), FG_CIRCUIT_HALF_OPEN);
    expect_int_eq(fg_health_available(h, 0, &conf, 31000, NULL), 1);
    free(h);
}

static void
only_one_begin_wins_the_probe(void)
{
    fg_health_t *h = one_endpoint();
    int64_t      at = 0;

    open_at(h, 1000);
    expect_int_eq(fg_health_begin(h, 0, &conf, 31000), 1);
    expect_int_eq(fg_health_begin(h, 0, &conf, 31001), 0);
    expect_int_eq(fg_health_available(h, 0, &conf, 31001, &at), 0);
    expect_int_eq(at, 31000 + conf.open_ms);
    expect_int_eq(state(h, 0, 31001), FG_CIRCUIT_HALF_OPEN);
    free(h);
}

static void
a_probe_that_succeeds_closes_the_circuit(void)
{
    fg_health_t     *h = one_endpoint();
    fg_health_view_t v;

    open_at(h, 1000);
    fg_health_begin(h, 0, &conf, 31000);
    succeed(h, 0, 31500);
    fg_health_read(h, 0, &conf, 31500, &v);
    expect_int_eq(v.state, FG_CIRCUIT_CLOSED);
    expect_int_eq(v.consecutive_failures, 0);
    expect_int_eq(fg_health_begin(h, 0, &conf, 31500), 1);
    free(h);
}

static void
a_probe_that_fails_opens_it_again_for_open_ms(void)
{
    fg_health_t *h = one_endpoint();
    int64_t      at = 0;

    open_at(h, 1000);
    fg_health_begin(h, 0, &conf, 31000);
    fail(h, 0, 32000);
    expect_int_eq(state(h, 0, 32000), FG_CIRCUIT_OPEN);
    expect_int_eq(fg_health_available(h, 0, &conf, 32000, &at), 0);
    expect_int_eq(at, 32000 + conf.open_ms);
    expect_int_eq(state(h, 0, 62000), FG_CIRCUIT_HALF_OPEN);
    free(h);
}

static void
a_probe_ended_without_a_verdict_frees_it_for_another(void)
{
    fg_health_t *h = one_endpoint();

    open_at(h, 1000);
    fg_health_begin(h, 0, &conf, 31000);
    fg_health_end(h, 0, &conf, 31100, FG_ATTEMPT_CANCELLED, 0, 0, -1, -1);
    expect_int_eq(state(h, 0, 31100), FG_CIRCUIT_HALF_OPEN);
    expect_int_eq(fg_health_begin(h, 0, &conf, 31100), 1);
    free(h);
}

static void
a_stale_probe_claim_expires_after_open_ms(void)
{
    fg_health_t *h = one_endpoint();

    open_at(h, 1000);
    expect_int_eq(fg_health_begin(h, 0, &conf, 31000), 1);
    /* Its worker died: nobody ends it. */
    expect_int_eq(fg_health_begin(h, 0, &conf, 60999), 0);
    expect_int_eq(fg_health_available(h, 0, &conf, 61000, NULL), 1);
    expect_int_eq(fg_health_begin(h, 0, &conf, 61000), 1);
    expect_int_eq(fg_health_begin(h, 0, &conf, 61001), 0);
    free(h);
}

static void
failures_that_are_not_the_providers_fault_never_open_it(void)
{
    fg_health_t     *h = one_endpoint();
    fg_health_view_t v;
    int              i;

    for (i = 0; i < 50; i++) {
        fg_health_end(h, 0, &conf, 1000, FG_ATTEMPT_STATUS, 0, 0, -1, -1);
    }
    fg_health_read(h, 0, &conf, 1000, &v);
    expect_int_eq(v.state, FG_CIRCUIT_CLOSED);
    expect_int_eq(v.attempts[FG_ATTEMPT_STATUS], 50);
    expect_int_eq(v.failures, 0);
    expect_int_eq(v.window_attempts, 0);
    free(h);
}

static void
a_cool_down_keeps_requests_away_until_it_ends_and_the_later_wins(void)
{
    fg_health_t     *h = one_endpoint();
    fg_health_view_t v;
    int64_t          at = 0;

    fg_health_cool(h, 0, 5000);
    fg_health_cool(h, 0, 3000);             /* earlier: ignored */
    expect_int_eq(fg_health_available(h, 0, &conf, 1000, &at), 0);
    expect_int_eq(at, 5000);
    expect_int_eq(fg_health_begin(h, 0, &conf, 4999), 0);
    fg_health_read(h, 0, &conf, 1000, &v);
    expect_int_eq(v.state, FG_CIRCUIT_CLOSED);   /* not opened by it */
    expect_int_eq(v.retry_at_ms, 5000);
    fg_health_cool(h, 0, 8000);
    expect_int_eq(fg_health_available(h, 0, &conf, 6000, &at), 0);
    expect_int_eq(at, 8000);
    expect_int_eq(fg_health_begin(h, 0, &conf, 8000), 1);
    free(h);
}

static void
speed_reads_the_two_averages_of_a_bound_slot_only(void)
{
    fg_health_t *h = one_endpoint();
    double       ttft = -1, tps = -1;

    expect_int_eq(fg_health_speed(h, 0, &ttft, &tps), FG_OK);
    expect_true(ttft == 0 && tps == 0);              /* not measured */
    fg_health_end(h, 0, &conf, 1000, FG_ATTEMPT_STATUS, 1, 0, 250, 80);
    expect_int_eq(fg_health_speed(h, 0, &ttft, &tps), FG_OK);
    expect_true(ttft == 250 && tps == 80);
    expect_int_eq(fg_health_speed(h, 1, &ttft, &tps), FG_ERR);
    expect_int_eq(fg_health_speed(h, -1, &ttft, &tps), FG_ERR);
    free(h);
}

static void
ttft_and_tps_are_averaged_with_weight_0_2_from_the_first_sample(void)
{
    fg_health_t     *h = one_endpoint();
    fg_health_view_t v;

    fg_health_read(h, 0, &conf, 1000, &v);
    expect_true(v.ttft_ms == 0 && v.tps == 0);       /* not measured */
    fg_health_end(h, 0, &conf, 1000, FG_ATTEMPT_STATUS, 1, 0, 400, 50);
    fg_health_read(h, 0, &conf, 1000, &v);
    expect_true(v.ttft_ms == 400 && v.tps == 50);
    fg_health_end(h, 0, &conf, 1000, FG_ATTEMPT_STATUS, 1, 0, 900, -1);
    fg_health_read(h, 0, &conf, 1000, &v);
    expect_true(v.ttft_ms == 400 + 0.2 * (900 - 400));
    expect_true(v.tps == 50);                        /* < 0: none */
    free(h);
}

static void
bind_returns_the_same_slot_for_a_key_and_another_for_another(void)
{
    fg_health_t     *h = table_new(16);
    fg_health_view_t v;

    expect_int_eq(fg_health_bind(h, "a", "m"), 0);
    expect_int_eq(fg_health_bind(h, "b", "m"), 1);
    expect_int_eq(fg_health_bind(h, "a", "m2"), 2);
    expect_int_eq(fg_health_bind(h, "a", "m"), 0);
    expect_int_eq(fg_health_count(h), 3);
    expect_int_eq(fg_health_read(h, 1, &conf, 0, &v), FG_OK);
    expect_str_eq(v.provider, "b");
    expect_str_eq(v.model, "m");
    expect_int_eq(fg_health_read(h, 3, &conf, 0, &v), FG_ERR);
    free(h);
}

static void
bind_returns_minus_one_when_the_table_is_full(void)
{
    fg_health_t *h = table_new(16);
    char         id[16];
    int          i;

    for (i = 0; i < 16; i++) {
        snprintf(id, sizeof(id), "m%d", i);
        expect_int_eq(fg_health_bind(h, "p", id), i);
    }
    expect_int_eq(fg_health_bind(h, "p", "one-more"), -1);
    expect_int_eq(fg_health_bind(h, "p", "m7"), 7);   /* still known */
    expect_int_eq(fg_health_capacity(h), 16);
    free(h);
}

static void
ids_longer_than_the_key_are_cut_and_share_an_entry(void)
{
    fg_health_t *h = table_new(16);
    char         a[200], b[200];

    memset(a, 'x', sizeof(a) - 1);
    a[sizeof(a) - 1] = '\0';
    memcpy(b, a, sizeof(b));
    b[150] = 'y';
    expect_int_eq(fg_health_bind(h, "p", a), 0);
    expect_int_eq(fg_health_bind(h, "p", b), 0);
    free(h);
}

static void
a_slot_below_zero_is_always_available_and_ignored(void)
{
    fg_health_t     *h = one_endpoint();
    fg_health_view_t v;

    open_at(h, 1000);
    expect_int_eq(fg_health_available(h, -1, &conf, 1000, NULL), 1);
    expect_int_eq(fg_health_begin(h, -1, &conf, 1000), 1);
    fg_health_end(h, -1, &conf, 1000, FG_ATTEMPT_STATUS, 1, 0, 1, 1);
    fg_health_cool(h, -1, 99999);
    fg_health_failover(h, -1);
    expect_int_eq(fg_health_read(h, -1, &conf, 1000, &v), FG_ERR);
    free(h);
}

static void
attempts_are_counted_by_outcome_with_failovers_and_openings(void)
{
    fg_health_t     *h = one_endpoint();
    fg_health_view_t v;

    succeed(h, 0, 1000);
    fg_health_end(h, 0, &conf, 1000, FG_ATTEMPT_CONNECT_FAILED, 0, 1, -1,
                  -1);
    fg_health_end(h, 0, &conf, 1000, FG_ATTEMPT_FIRST_BYTE_TIMEOUT, 0, 1,
                  -1, -1);
    fg_health_end(h, 0, &conf, 1000, FG_ATTEMPT_CANCELLED, 0, 0, -1, -1);
    fg_health_failover(h, 0);
    fg_health_failover(h, 0);
    open_at(h, 1000);
    fg_health_read(h, 0, &conf, 1000, &v);
    expect_int_eq(v.attempts[FG_ATTEMPT_STATUS], 1 + conf.failures);
    expect_int_eq(v.attempts[FG_ATTEMPT_CONNECT_FAILED], 1);
    expect_int_eq(v.attempts[FG_ATTEMPT_FIRST_BYTE_TIMEOUT], 1);
    expect_int_eq(v.attempts[FG_ATTEMPT_CANCELLED], 1);
    expect_int_eq(v.successes, 1);
    expect_int_eq(v.failures, 2 + conf.failures);
    expect_int_eq(v.failovers, 2);
    expect_int_eq(v.opened, 1);
    free(h);
}

static void
the_published_listing_is_read_back_whole(void)
{
    fg_health_t     *h = table_new(16);
    fg_health_row_t  in[2] = { { 0, "gpt-x", "FR" }, { 1, "gpt-y", "" } };
    fg_health_row_t *out = NULL;
    size_t           n = 9;

    expect_int_eq(fg_health_rows(h, &out, &n), FG_OK);
    expect_int_eq(n, 0);
    fg_health_publish(h, in, 2);
    expect_int_eq(fg_health_rows(h, &out, &n), FG_OK);
    expect_int_eq(n, 2);
    expect_int_eq(out[1].slot, 1);
    expect_str_eq(out[0].model, "gpt-x");
    expect_str_eq(out[0].country, "FR");
    free(out);
    fg_health_publish(h, in + 1, 1);        /* a reload replaces it */
    expect_int_eq(fg_health_rows(h, &out, &n), FG_OK);
    expect_int_eq(n, 1);
    expect_str_eq(out[0].model, "gpt-y");
    free(out);
    free(h);
}

static void
two_processes_ending_attempts_at_once_lose_no_count(void)
{
    size_t           bytes = fg_health_size(16);
    void            *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    fg_health_t     *h = fg_health_init(mem, 16);
    fg_health_view_t v;
    pid_t            pid[2];
    int              p, i, status;

    fg_health_bind(h, "demo", "demo-model");
    for (p = 0; p < 2; p++) {
        pid[p] = fork();
        if (pid[p] == 0) {
            for (i = 0; i < 100000; i++) {
                fg_health_end(h, 0, &conf, i, FG_ATTEMPT_STATUS, i % 3 != 0,
                              1, 100, 10);
            }
            _exit(0);
        }
    }
    for (p = 0; p < 2; p++) {
        waitpid(pid[p], &status, 0);
        expect_int_eq(status, 0);
    }
    fg_health_read(h, 0, &conf, 100000, &v);
    expect_int_eq(v.successes, 2 * 66666);
    expect_int_eq(v.failures, 2 * 33334);
    expect_int_eq(v.attempts[FG_ATTEMPT_STATUS], 200000);
    munmap(mem, bytes);
}

FG_TEST_MAIN("health",
    FG_TEST_CASE(a_new_endpoint_is_closed_and_available),
    FG_TEST_CASE(consecutive_failures_open_the_circuit),
    FG_TEST_CASE(a_success_resets_the_consecutive_failures),
    FG_TEST_CASE(the_error_rate_opens_it_only_after_min_requests),
    FG_TEST_CASE(the_previous_window_counts_by_the_part_still_in_the_sliding_one),
    FG_TEST_CASE(an_open_circuit_is_unavailable_until_open_ms_have_passed),
    FG_TEST_CASE(after_open_ms_it_reads_half_open_and_available),
    FG_TEST_CASE(only_one_begin_wins_the_probe),
    FG_TEST_CASE(a_probe_that_succeeds_closes_the_circuit),
    FG_TEST_CASE(a_probe_that_fails_opens_it_again_for_open_ms),
    FG_TEST_CASE(a_probe_ended_without_a_verdict_frees_it_for_another),
    FG_TEST_CASE(a_stale_probe_claim_expires_after_open_ms),
    FG_TEST_CASE(failures_that_are_not_the_providers_fault_never_open_it),
    FG_TEST_CASE(a_cool_down_keeps_requests_away_until_it_ends_and_the_later_wins),
    FG_TEST_CASE(ttft_and_tps_are_averaged_with_weight_0_2_from_the_first_sample),
    FG_TEST_CASE(speed_reads_the_two_averages_of_a_bound_slot_only),
    FG_TEST_CASE(bind_returns_the_same_slot_for_a_key_and_another_for_another),
    FG_TEST_CASE(bind_returns_minus_one_when_the_table_is_full),
    FG_TEST_CASE(ids_longer_than_the_key_are_cut_and_share_an_entry),
    FG_TEST_CASE(a_slot_below_zero_is_always_available_and_ignored),
    FG_TEST_CASE(attempts_are_counted_by_outcome_with_failovers_and_openings),
    FG_TEST_CASE(the_published_listing_is_read_back_whole),
    FG_TEST_CASE(two_processes_ending_attempts_at_once_lose_no_count))
