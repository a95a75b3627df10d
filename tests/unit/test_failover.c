/*
 * test_failover.c: which failed attempts move to the next endpoint, and
 * which count against their endpoint's circuit (worker/failover.h).
 */

#include "worker/failover.h"

#include <string.h>

#include "tests/unit/fg_test.h"

static fg_attempt_result_t
ended(fg_attempt_outcome_t outcome, int status)
{
    fg_attempt_result_t r;

    memset(&r, 0, sizeof(r));
    r.outcome = outcome;
    r.status = status;
    r.is_request_sent = outcome != FG_ATTEMPT_CONNECT_FAILED
                        && outcome != FG_ATTEMPT_NOT_SENT;
    r.retry_after_ms = -1;
    return r;
}

static int
moves_on(fg_attempt_outcome_t outcome, int status)
{
    fg_attempt_result_t r = ended(outcome, status);
    fg_failover_facts_t f;

    memset(&f, 0, sizeof(f));
    return fg_failover_allowed(&r, &f);
}

static void
an_attempt_the_provider_never_got_moves_on(void)
{
    expect_int_eq(moves_on(FG_ATTEMPT_CONNECT_FAILED, 0), 1);
    expect_int_eq(moves_on(FG_ATTEMPT_NOT_SENT, 0), 1);
}

static void
a_first_byte_timeout_moves_on(void)
{
    expect_int_eq(moves_on(FG_ATTEMPT_FIRST_BYTE_TIMEOUT, 0), 1);
}

static void
a_5xx_a_429_and_the_providers_refusals_move_on(void)
{
    expect_int_eq(moves_on(FG_ATTEMPT_STATUS, 500), 1);
    expect_int_eq(moves_on(FG_ATTEMPT_STATUS, 503), 1);
    expect_int_eq(moves_on(FG_ATTEMPT_STATUS, 429), 1);
    expect_int_eq(moves_on(FG_ATTEMPT_STATUS, 401), 1);
    expect_int_eq(moves_on(FG_ATTEMPT_STATUS, 403), 1);
    expect_int_eq(moves_on(FG_ATTEMPT_STATUS, 404), 1);
}

static void
a_client_error_about_the_request_is_its_answer(void)
{
    expect_int_eq(moves_on(FG_ATTEMPT_STATUS, 400), 0);
    expect_int_eq(moves_on(FG_ATTEMPT_STATUS, 413), 0);
    expect_int_eq(moves_on(FG_ATTEMPT_STATUS, 422), 0);
}

static void
sent_no_reply_moves_on_only_when_configured(void)
{
    fg_attempt_result_t r = ended(FG_ATTEMPT_SENT_NO_REPLY, 0);
    fg_failover_facts_t f;

    memset(&f, 0, sizeof(f));
    expect_int_eq(fg_failover_allowed(&r, &f), 0);
    f.failover_after_send = 1;
    expect_int_eq(fg_failover_allowed(&r, &f), 1);
}

static void
an_empty_2xx_moves_on_and_a_whole_one_does_not(void)
{
    fg_attempt_result_t r = ended(FG_ATTEMPT_STATUS, 200);
    fg_failover_facts_t f;

    memset(&f, 0, sizeof(f));
    expect_int_eq(fg_failover_allowed(&r, &f), 0);
    f.is_empty = 1;
    expect_int_eq(fg_failover_allowed(&r, &f), 1);
}

static void
nothing_moves_on_once_the_client_got_a_byte(void)
{
    fg_attempt_result_t r = ended(FG_ATTEMPT_BROKE_AFTER_BYTES, 200);
    fg_failover_facts_t f;

    memset(&f, 0, sizeof(f));
    f.is_empty = 1;
    f.is_client_reached = 1;
    expect_int_eq(fg_failover_allowed(&r, &f), 0);
    r = ended(FG_ATTEMPT_CONNECT_FAILED, 0);
    expect_int_eq(fg_failover_allowed(&r, &f), 0);
}

static void
nothing_moves_on_once_the_request_was_charged(void)
{
    fg_attempt_result_t r = ended(FG_ATTEMPT_STATUS, 500);
    fg_failover_facts_t f;

    memset(&f, 0, sizeof(f));
    f.is_charged = 1;
    expect_int_eq(fg_failover_allowed(&r, &f), 0);
}

static void
the_gateways_own_fault_does_not_move_on(void)
{
    fg_attempt_result_t r = ended(FG_ATTEMPT_NOT_SENT, 0);
    fg_failover_facts_t f;

    memset(&f, 0, sizeof(f));
    f.is_gateway_fault = 1;
    expect_int_eq(fg_failover_allowed(&r, &f), 0);
}

static void
a_cancel_does_not_move_on(void)
{
    expect_int_eq(moves_on(FG_ATTEMPT_CANCELLED, 0), 0);
}

static void
the_providers_failures_count_against_its_circuit(void)
{
    static const fg_attempt_outcome_t outcomes[] = {
        FG_ATTEMPT_CONNECT_FAILED, FG_ATTEMPT_NOT_SENT,
        FG_ATTEMPT_SENT_NO_REPLY, FG_ATTEMPT_FIRST_BYTE_TIMEOUT,
        FG_ATTEMPT_BROKE_AFTER_BYTES
    };
    static const int statuses[] = { 500, 502, 401, 403, 404, 200 };
    fg_attempt_result_t r;
    size_t              i;

    for (i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++) {
        r = ended(outcomes[i], 0);
        expect_int_eq(fg_failover_is_circuit_failure(&r), 1);
    }
    for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        r = ended(FG_ATTEMPT_STATUS, statuses[i]);
        expect_int_eq(fg_failover_is_circuit_failure(&r), 1);
    }
}

static void
a_429_the_tenants_errors_and_a_cancel_spare_the_circuit(void)
{
    static const int statuses[] = { 429, 400, 413, 422 };
    fg_attempt_result_t r;
    size_t              i;

    for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        r = ended(FG_ATTEMPT_STATUS, statuses[i]);
        expect_int_eq(fg_failover_is_circuit_failure(&r), 0);
    }
    r = ended(FG_ATTEMPT_CANCELLED, 0);
    expect_int_eq(fg_failover_is_circuit_failure(&r), 0);
}

FG_TEST_MAIN("failover",
    FG_TEST_CASE(an_attempt_the_provider_never_got_moves_on),
    FG_TEST_CASE(a_first_byte_timeout_moves_on),
    FG_TEST_CASE(a_5xx_a_429_and_the_providers_refusals_move_on),
    FG_TEST_CASE(a_client_error_about_the_request_is_its_answer),
    FG_TEST_CASE(sent_no_reply_moves_on_only_when_configured),
    FG_TEST_CASE(an_empty_2xx_moves_on_and_a_whole_one_does_not),
    FG_TEST_CASE(nothing_moves_on_once_the_client_got_a_byte),
    FG_TEST_CASE(nothing_moves_on_once_the_request_was_charged),
    FG_TEST_CASE(the_gateways_own_fault_does_not_move_on),
    FG_TEST_CASE(a_cancel_does_not_move_on),
    FG_TEST_CASE(the_providers_failures_count_against_its_circuit),
    FG_TEST_CASE(a_429_the_tenants_errors_and_a_cancel_spare_the_circuit))
