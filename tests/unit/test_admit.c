/*
 * test_admit.c: the x-ratelimit-* headers the admit stage renders for the
 * pipeline from a request's admission: one per limit the key has, with
 * OpenAI's duration format for the resets, and none without limits.
 */

#include "worker/admit.h"

#include <stdlib.h>
#include <string.h>

#include "tests/unit/fg_test.h"

/* A request of a key whose admission reported @a. */
static fg_req_t *
admit_req(const fg_admission_t *a)
{
    fg_req_t *req = calloc(1, sizeof(*req));

    req->auth.has_key = 1;
    req->admission.key = *a;
    return req;
}

/* The value of header @name in @h, or NULL. */
static const char *
admit_value(const fg_admit_headers_t *h, const char *name)
{
    int i;

    for (i = 0; i < h->count; i++) {
        if (strcmp(h->name[i], name) == 0) {
            return h->value[i];
        }
    }
    return NULL;
}

static void
admit_headers_report_each_limit_of_the_key(void)
{
    fg_admission_t     a = { 0 };
    fg_admit_headers_t h;
    fg_req_t          *req;

    a.requests_limit = 10;
    a.requests_remaining = 9;
    a.requests_reset_ms = 6000;
    a.tokens_limit = 2000;
    a.tokens_remaining = 1834;
    a.tokens_reset_ms = 4950;
    req = admit_req(&a);
    fg_admit_headers(req, &h);
    expect_int_eq(h.count, 6);
    expect_str_eq(admit_value(&h, "x-ratelimit-limit-requests"), "10");
    expect_str_eq(admit_value(&h, "x-ratelimit-remaining-requests"), "9");
    expect_str_eq(admit_value(&h, "x-ratelimit-reset-requests"), "6s");
    expect_str_eq(admit_value(&h, "x-ratelimit-limit-tokens"), "2000");
    expect_str_eq(admit_value(&h, "x-ratelimit-remaining-tokens"), "1834");
    expect_str_eq(admit_value(&h, "x-ratelimit-reset-tokens"), "4.95s");
    free(req);
}

static void
admit_headers_report_only_the_limits_the_key_has(void)
{
    fg_admission_t     a = { 0 };
    fg_admit_headers_t h;
    fg_req_t          *req;

    a.tokens_limit = 100;
    a.tokens_remaining = 0;
    a.tokens_reset_ms = 61000;
    req = admit_req(&a);
    fg_admit_headers(req, &h);
    expect_int_eq(h.count, 3);
    expect_true(admit_value(&h, "x-ratelimit-limit-requests") == NULL);
    expect_str_eq(admit_value(&h, "x-ratelimit-remaining-tokens"), "0");
    expect_str_eq(admit_value(&h, "x-ratelimit-reset-tokens"), "1m1s");
    free(req);
}

static void
admit_headers_are_none_for_a_key_without_limits(void)
{
    fg_admission_t     a = { 0 };
    fg_admit_headers_t h;
    fg_req_t          *req = admit_req(&a);

    fg_admit_headers(req, &h);
    expect_int_eq(h.count, 0);
    free(req);
}

static void
admit_headers_are_none_without_a_key(void)
{
    fg_admission_t     a = { 0 };
    fg_admit_headers_t h;
    fg_req_t          *req;

    a.requests_limit = 10;
    req = admit_req(&a);
    req->auth.has_key = 0;
    fg_admit_headers(req, &h);
    expect_int_eq(h.count, 0);
    free(req);
}

FG_TEST_MAIN("admit",
    FG_TEST_CASE(admit_headers_report_each_limit_of_the_key),
    FG_TEST_CASE(admit_headers_report_only_the_limits_the_key_has),
    FG_TEST_CASE(admit_headers_are_none_for_a_key_without_limits),
    FG_TEST_CASE(admit_headers_are_none_without_a_key))
