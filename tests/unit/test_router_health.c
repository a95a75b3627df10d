/*
 * test_router_health.c: what the router (common/route/router.h) does
 * with a live health table (common/route/health.h): an open circuit or a
 * cool-down drops an endpoint, every endpoint unhealthy is a 503 with the
 * earliest retry, min_speed_tps and the speed figures come from the
 * measured EWMAs. The table is the real one in a malloc'd buffer, fed by
 * fg_health_end() and fg_health_cool() at a simulated clock.
 *
 * Pending: it links common/route/health.c, written apart. The lead moves
 * it to tests/unit/ when that is merged (the Makefile builds every
 * tests/unit/test_*.c).
 */

#include "common/route/router.h"

#include <stdlib.h>
#include <string.h>

#include "common/route/health.h"
#include "tests/unit/router_world.h"

/* Samples enough for an EWMA of weight 0.2 to settle whatever its start
 * (0.8^60 < 1e-5). */
#define SETTLE 60

static void *health_mem;

/* world(@n) with every endpoint of every model bound to the table. */
static void
world_measured(size_t n)
{
    size_t m, e, cap = MODELS * PROVIDERS;

    world(n);
    free(health_mem);
    health_mem = calloc(1, fg_health_size(cap));
    health = fg_health_init(health_mem, cap);
    for (m = 0; m < MODELS; m++) {
        for (e = 0; e < n; e++) {
            ep(m, e)->health_slot = fg_health_bind(health,
                                                   ep(m, e)->provider->id,
                                                   ep(m, e)->upstream_id);
        }
    }
}

/* @e's EWMAs settle at @ttft_ms and @tps. */
static void
measure(const fg_endpoint_t *e, double ttft_ms, double tps)
{
    int i;

    for (i = 0; i < SETTLE; i++) {
        fg_health_begin(health, e->health_slot, &conf.circuit, NOW);
        fg_health_end(health, e->health_slot, &conf.circuit, NOW,
                      FG_ATTEMPT_STATUS, 1, 0, ttft_ms, tps);
    }
}

/* conf.circuit.failures consecutive failures: the circuit opens. */
static void
open_circuit(const fg_endpoint_t *e)
{
    int64_t i;

    for (i = 0; i < conf.circuit.failures; i++) {
        fg_health_begin(health, e->health_slot, &conf.circuit, NOW);
        fg_health_end(health, e->health_slot, &conf.circuit, NOW,
                      FG_ATTEMPT_CONNECT_FAILED, 0, 1, -1, -1);
    }
}

/* alpha: 100 ms, 80 tokens/s; beta: 900 ms, 150/s; gamma: 500 ms, 30/s. */
static void
world_three_speeds(void)
{
    world_measured(3);
    measure(ep(0, 0), 100, 80);
    measure(ep(0, 1), 900, 150);
    measure(ep(0, 2), 500, 30);
}

static void
test_an_open_circuit_drops_its_endpoint(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    world_measured(3);
    open_circuit(ep(0, 1));
    p = prefs_for(0);
    expect_int_eq(plan(&p, &n, &out, &err), FG_OK);
    expect_int_eq(out.n, 2);
    expect_true(out.c[0].endpoint != ep(0, 1));
    expect_true(out.c[1].endpoint != ep(0, 1));
}

static void
test_every_endpoint_unhealthy_is_503_with_the_earliest_retry(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    world_measured(2);
    fg_health_cool(health, ep(0, 0)->health_slot, NOW + 4200);
    fg_health_cool(health, ep(0, 1)->health_slot, NOW + 2500);
    p = prefs_for(0);
    expect_int_eq(plan(&p, &n, &out, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_NO_PROVIDER_AVAILABLE);
    expect_int_eq(retry_after, 3);      /* 2.5 s, rounded up */
}

static void
test_retry_after_is_at_least_one_second(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    world_measured(1);
    fg_health_cool(health, ep(0, 0)->health_slot, NOW + 1);
    p = prefs_for(0);
    expect_int_eq(plan(&p, &n, &out, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_NO_PROVIDER_AVAILABLE);
    expect_int_eq(retry_after, 1);
}

static void
test_an_open_circuit_retries_when_it_turns_half_open(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    world_measured(1);
    open_circuit(ep(0, 0));
    p = prefs_for(0);
    expect_int_eq(plan(&p, &n, &out, &err), FG_ERR);
    expect_int_eq(retry_after, conf.circuit.open_ms / 1000);
}

static void
test_unhealthy_wins_over_a_preference_when_one_was_dropped_for_it_alone(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    world_measured(2);
    fg_health_cool(health, ep(0, 1)->health_slot, NOW + 5000);
    p = prefs_for(0);
    p.ignore[0] = STR("alpha");
    p.n_ignore = 1;
    expect_int_eq(plan(&p, &n, &out, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_NO_PROVIDER_AVAILABLE);
}

static void
test_a_preference_wins_when_the_unhealthy_were_excluded_anyway(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();

    world_measured(2);
    fg_health_cool(health, ep(0, 0)->health_slot, NOW + 5000);
    p = prefs_for(0);
    p.ignore[0] = STR("alpha");
    p.ignore[1] = STR("beta");
    p.n_ignore = 2;
    expect_refusal(&p, &n, FG_E_NO_MATCHING_ENDPOINT, "provider.ignore");
}

static void
test_min_speed_tps_drops_the_slow_and_keeps_the_unmeasured(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    world_measured(3);
    measure(ep(0, 0), 300, 20);
    measure(ep(0, 1), 300, 120);
    /* gamma: never measured */
    p = prefs_for(0);
    p.min_speed_tps = 50;
    expect_int_eq(plan(&p, &n, &out, &err), FG_OK);
    expect_int_eq(out.n, 2);
    expect_true(out.c[0].endpoint != ep(0, 0));
    expect_true(out.c[1].endpoint != ep(0, 0));
}

static void
test_min_speed_tps_dropping_all_names_the_filter(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();

    world_measured(1);
    measure(ep(0, 0), 300, 20);
    p = prefs_for(0);
    p.min_speed_tps = 50;
    expect_refusal(&p, &n, FG_E_NO_MATCHING_ENDPOINT, "filters.min_speed_tps");
}

static void
test_speed_preset_orders_by_measured_time_to_serve(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    /* 500 tokens: alpha 200 + 10000, beta 2000 + 2500, gamma (priors)
     * 1000 + 10000 ms */
    world_measured(3);
    measure(ep(0, 0), 200, 50);
    measure(ep(0, 1), 2000, 200);
    p = prefs_for(0);
    p.preset = FG_PRESET_SPEED;
    expect_int_eq(plan(&p, &n, &out, &err), FG_OK);
    expect_str_eq(providers_of(&out), "beta,alpha,gamma");
    expect_true(out.c[0].score > 4499 && out.c[0].score < 4501);
}

static void
test_sort_throughput_puts_the_most_tokens_per_second_first(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();

    world_three_speeds();
    p = prefs_for(0);
    p.sort = FG_SORT_THROUGHPUT;
    expect_route(&p, &n, "beta,alpha,gamma");
}

static void
test_sort_latency_puts_the_first_token_soonest_first(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();

    world_three_speeds();
    p = prefs_for(0);
    p.sort = FG_SORT_LATENCY;
    expect_route(&p, &n, "alpha,gamma,beta");
}

static void
test_balanced_preset_counts_the_measured_speed(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    /* equal price and grams: speed alone decides */
    world_measured(2);
    measure(ep(0, 0), 3000, 20);
    measure(ep(0, 1), 200, 100);
    p = prefs_for(0);
    expect_int_eq(plan(&p, &n, &out, &err), FG_OK);
    expect_str_eq(providers_of(&out), "beta,alpha");
    expect_true(out.c[1].score > 0.2999 && out.c[1].score < 0.3001);
}

FG_TEST_MAIN("router_health",
    FG_TEST_CASE(test_an_open_circuit_drops_its_endpoint),
    FG_TEST_CASE(test_every_endpoint_unhealthy_is_503_with_the_earliest_retry),
    FG_TEST_CASE(test_retry_after_is_at_least_one_second),
    FG_TEST_CASE(test_an_open_circuit_retries_when_it_turns_half_open),
    FG_TEST_CASE(test_unhealthy_wins_over_a_preference_when_one_was_dropped_for_it_alone),
    FG_TEST_CASE(test_a_preference_wins_when_the_unhealthy_were_excluded_anyway),
    FG_TEST_CASE(test_min_speed_tps_drops_the_slow_and_keeps_the_unmeasured),
    FG_TEST_CASE(test_min_speed_tps_dropping_all_names_the_filter),
    FG_TEST_CASE(test_speed_preset_orders_by_measured_time_to_serve),
    FG_TEST_CASE(test_sort_throughput_puts_the_most_tokens_per_second_first),
    FG_TEST_CASE(test_sort_latency_puts_the_first_token_soonest_first),
    FG_TEST_CASE(test_balanced_preset_counts_the_measured_speed))
