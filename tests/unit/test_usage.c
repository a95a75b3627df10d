/*
 * test_usage.c: the usage record (common/accounts/usage.h). Its fixed layout and
 * defaults; the string setter's cuts at character boundaries, its
 * cleaning of invalid UTF-8 and control characters, and its bounds on
 * every field; filling from a request summary; the attempts and their
 * cap; and the JSON shape, both ways, exact for every field (ids at
 * their longest, every attempt), strict on input, and version 1 read as
 * the 392-byte record wrote it.
 */

#include "common/accounts/usage.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "tests/unit/fg_test.h"

/* A record with a different value in every field. */
static void
sample(fg_usage_record_t *rec)
{
    fg_usage_init(rec);
    rec->seq = 123456789012ULL;
    rec->ring = 7;
    rec->status = 402;
    rec->started_unix_ms = 1767225600123LL;
    rec->latency_us = 1500042;
    rec->ttfb_us = 250001;
    rec->prompt_tokens = 1200;
    rec->completion_tokens = 345;
    rec->reasoning_tokens = 67;
    rec->cached_tokens = 800;
    rec->charged_micro = 987654321;
    rec->energy_kwh = 0.000123456789;
    rec->carbon_g_co2 = 0.0421;
    rec->water_liters = 1e-7;
    rec->uncharged_micro = 4242;
    rec->flags = FG_USAGE_ESTIMATED | FG_USAGE_IMPACT_ESTIMATED
                 | FG_USAGE_STREAM | FG_USAGE_WORKER_LOST
                 | FG_USAGE_JSON_REPAIRED;
    rec->api = FG_USAGE_API_EMBEDDINGS;
    FG_USAGE_SET(rec->request_id, "req_0123456789abcdef01234567");
    FG_USAGE_SET(rec->client_request_id, "client:42");
    FG_USAGE_SET(rec->key_id, "key_0011223344556677");
    FG_USAGE_SET(rec->model_requested, "demo-chat");
    FG_USAGE_SET(rec->model_served, "demo/chat-large \"q4\"");
    FG_USAGE_SET(rec->provider, "demo");
    FG_USAGE_SET(rec->error_code, "BILLING_INSUFFICIENT_ENERGY");
}

static void
the_record_has_a_fixed_size_and_no_pointers(void)
{
    fg_usage_record_t rec;

    expect_int_eq(sizeof(fg_usage_record_t), 1064);
    expect_int_eq(offsetof(fg_usage_record_t, seq), 0);
    expect_int_eq(offsetof(fg_usage_record_t, attempts) % 8, 0);
    expect_int_eq(sizeof(rec.request_id), FG_USAGE_REQUEST_ID_MAX + 1);
    expect_int_eq(sizeof(rec.client_request_id),
                  FG_USAGE_REQUEST_ID_MAX + 1);
    expect_int_eq(FG_USAGE_REQUEST_ID_MAX, 128);
    expect_int_eq(sizeof(rec.attempts) / sizeof(rec.attempts[0]),
                  FG_USAGE_MAX_ATTEMPTS);
    expect_int_eq(sizeof(rec.key_id), FG_USAGE_KEY_ID_MAX + 1);
    expect_int_eq(sizeof(rec.model_requested), FG_USAGE_MODEL_MAX + 1);
    expect_int_eq(sizeof(rec.model_served), FG_USAGE_MODEL_MAX + 1);
    expect_int_eq(sizeof(rec.provider), FG_USAGE_PROVIDER_MAX + 1);
    expect_int_eq(sizeof(rec.error_code), FG_USAGE_ERROR_MAX + 1);
}

static void
init_clears_every_field_and_marks_no_first_byte(void)
{
    fg_usage_record_t rec;

    memset(&rec, 0x5a, sizeof(rec));
    fg_usage_init(&rec);
    expect_int_eq(rec.ttfb_us, -1);
    expect_int_eq(rec.seq, 0);
    expect_int_eq(rec.charged_micro, 0);
    expect_true(rec.energy_kwh == 0.0);
    expect_str_eq(rec.request_id, "");
    expect_str_eq(rec.error_code, "");
    expect_int_eq(rec.flags, 0);
    expect_int_eq(rec.api, FG_USAGE_API_CHAT);
    expect_int_eq(rec.attempts_n, 0);
}

static void
set_str_copies_a_short_value_whole(void)
{
    char buf[8];

    expect_int_eq(fg_usage_set_str(buf, sizeof(buf), "abc"), 0);
    expect_str_eq(buf, "abc");
    expect_int_eq(fg_usage_set_str(buf, sizeof(buf), "1234567"), 0);
    expect_str_eq(buf, "1234567");
    expect_int_eq(fg_usage_set_str(buf, sizeof(buf), NULL), 0);
    expect_str_eq(buf, "");
    expect_int_eq(fg_usage_set_str(buf, sizeof(buf), ""), 0);
    expect_str_eq(buf, "");
}

static void
set_str_cuts_a_long_value_and_says_so(void)
{
    char guard[16], *buf = guard + 4;

    memset(guard, '#', sizeof(guard));
    expect_int_eq(fg_usage_set_str(buf, 8, "123456789"), 1);
    expect_str_eq(buf, "1234567");
    /* Not a byte written outside the 8 given. */
    expect_int_eq(guard[3], '#');
    expect_int_eq(guard[12], '#');
    expect_int_eq(fg_usage_set_str(buf, 1, "x"), 1);
    expect_str_eq(buf, "");
}

static void
set_str_never_splits_a_utf8_character(void)
{
    char buf[6];

    /* "ab" + "é" (2 bytes) + "€" (3 bytes): the euro does not fit in
     * the 5 bytes left, so the cut falls before it, not inside it. */
    expect_int_eq(fg_usage_set_str(buf, sizeof(buf), "ab\xc3\xa9\xe2\x82\xac"),
                  1);
    expect_str_eq(buf, "ab\xc3\xa9");
    /* A 4-byte character that fits exactly. */
    expect_int_eq(fg_usage_set_str(buf, sizeof(buf), "a\xf0\x9f\x98\x80"), 0);
    expect_str_eq(buf, "a\xf0\x9f\x98\x80");
    expect_int_eq(fg_usage_set_str(buf, sizeof(buf), "ab\xf0\x9f\x98\x80"),
                  1);
    expect_str_eq(buf, "ab");
}

static void
set_str_replaces_invalid_utf8_and_control_characters(void)
{
    char buf[32];

    /* A lone continuation byte, a truncated sequence, an overlong "/",
     * a surrogate, a code point above U+10FFFF, 0xff. */
    fg_usage_set_str(buf, sizeof(buf), "a\x80" "b\xe2\x82" "c\xc0\xaf"
                                       "d\xed\xa0\x80" "e\xf4\x90\x80\x80"
                                       "f\xff");
    expect_str_eq(buf, "a?b??c??d???e????f?");
    fg_usage_set_str(buf, sizeof(buf), "line\nbreak\ttab\x7f\x01");
    expect_str_eq(buf, "line?break?tab??");
}

static void
the_setter_bounds_every_field_of_a_record(void)
{
    fg_usage_record_t rec;
    char              longer[200];

    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    fg_usage_init(&rec);
    expect_int_eq(FG_USAGE_SET(rec.request_id, longer), 1);
    expect_int_eq(FG_USAGE_SET(rec.client_request_id, longer), 1);
    expect_int_eq(FG_USAGE_SET(rec.key_id, longer), 1);
    expect_int_eq(FG_USAGE_SET(rec.model_requested, longer), 1);
    expect_int_eq(FG_USAGE_SET(rec.model_served, longer), 1);
    expect_int_eq(FG_USAGE_SET(rec.provider, longer), 1);
    expect_int_eq(FG_USAGE_SET(rec.error_code, longer), 1);
    expect_int_eq(strlen(rec.request_id), FG_USAGE_REQUEST_ID_MAX);
    expect_int_eq(strlen(rec.client_request_id), FG_USAGE_REQUEST_ID_MAX);
    expect_int_eq(strlen(rec.key_id), FG_USAGE_KEY_ID_MAX);
    expect_int_eq(strlen(rec.model_requested), FG_USAGE_MODEL_MAX);
    expect_int_eq(strlen(rec.model_served), FG_USAGE_MODEL_MAX);
    expect_int_eq(strlen(rec.provider), FG_USAGE_PROVIDER_MAX);
    expect_int_eq(strlen(rec.error_code), FG_USAGE_ERROR_MAX);
    /* Neighbours untouched. */
    expect_int_eq(rec.flags, 0);
    expect_int_eq(rec.pad2[0], 0);
    expect_int_eq(rec.attempts[0].provider[0], 0);
}

static void
from_summary_takes_every_fact_of_the_request(void)
{
    fg_request_summary_t s;
    fg_usage_record_t    rec;

    memset(&s, 0, sizeof(s));
    s.request_id = "req_from_a_client_that_sent_a_very_long_x_request_id";
    s.key_id = "key_00112233aabbccdd";
    s.model_requested = "gpt-4o";
    s.model_served = "demo/gpt-4o";
    s.provider = "demo";
    s.status = 429;
    s.error = FG_E_RATE_LIMIT_TOKENS;
    s.is_stream = 1;
    s.is_client_gone = 1;
    s.prompt_tokens = 10;
    s.completion_tokens = 20;
    s.reasoning_tokens = 5;
    s.cached_tokens = 4;
    s.latency_us = 1234;
    s.ttfb_us = -1;
    s.started_unix_ms = 1767225600000LL;
    s.charged_micro = 77;
    s.usage_estimated = 1;

    fg_usage_from_summary(&rec, &s);
    expect_str_eq(rec.request_id, s.request_id);
    expect_str_eq(rec.key_id, "key_00112233aabbccdd");
    expect_str_eq(rec.model_requested, "gpt-4o");
    expect_str_eq(rec.model_served, "demo/gpt-4o");
    expect_str_eq(rec.provider, "demo");
    expect_str_eq(rec.error_code, "rate_limit_tokens");
    expect_int_eq(rec.status, 429);
    expect_int_eq(rec.flags, FG_USAGE_STREAM | FG_USAGE_CLIENT_GONE
                             | FG_USAGE_ESTIMATED);
    expect_int_eq(rec.api, FG_USAGE_API_CHAT);
    expect_str_eq(rec.client_request_id, "");
    expect_int_eq(rec.prompt_tokens, 10);
    expect_int_eq(rec.completion_tokens, 20);
    expect_int_eq(rec.reasoning_tokens, 5);
    expect_int_eq(rec.cached_tokens, 4);
    expect_int_eq(rec.latency_us, 1234);
    expect_int_eq(rec.ttfb_us, -1);
    expect_int_eq(rec.started_unix_ms, 1767225600000LL);
    expect_int_eq(rec.charged_micro, 77);
    expect_int_eq(rec.seq, 0);

    /* Success has no error code; NULL strings are empty. */
    s.error = FG_E_NONE;
    s.model_served = NULL;
    s.provider = NULL;
    fg_usage_from_summary(&rec, &s);
    expect_str_eq(rec.error_code, "");
    expect_str_eq(rec.model_served, "");
    expect_str_eq(rec.provider, "");
}

static void
json_round_trip_is_exact_for_every_field(void)
{
    fg_usage_record_t rec, back;
    fg_err_t          err;
    json_t           *obj;

    sample(&rec);
    obj = fg_usage_to_json(&rec);
    expect_true(obj != NULL);
    expect_int_eq(json_integer_value(json_object_get(obj, "seq")),
                  123456789012LL);
    expect_str_eq(json_string_value(json_object_get(obj, "model_served")),
                  "demo/chat-large \"q4\"");
    expect_true(json_is_true(json_object_get(obj, "worker_lost")));
    expect_true(json_is_false(json_object_get(obj, "client_gone")));
    expect_int_eq(fg_usage_from_json(&back, obj, FG_USAGE_JSON_VERSION,
                                     &err), FG_OK);
    expect_true(memcmp(&rec, &back, sizeof(rec)) == 0);
    json_decref(obj);

    /* Through text too: doubles survive printing. */
    {
        char  *text;
        json_t *again;

        obj = fg_usage_to_json(&rec);
        text = json_dumps(obj, JSON_COMPACT);
        again = json_loads(text, 0, NULL);
        expect_int_eq(fg_usage_from_json(&back, again, FG_USAGE_JSON_VERSION,
                                         &err), FG_OK);
        expect_true(back.energy_kwh == rec.energy_kwh);
        expect_true(back.water_liters == rec.water_liters);
        expect_true(memcmp(&rec, &back, sizeof(rec)) == 0);
        free(text);
        json_decref(again);
        json_decref(obj);
    }
}

static void
from_json_refuses_a_missing_or_mistyped_member(void)
{
    fg_usage_record_t rec, back;
    fg_err_t          err;
    json_t           *obj;

    sample(&rec);
    obj = fg_usage_to_json(&rec);
    json_object_del(obj, "charged_micro");
    expect_int_eq(fg_usage_from_json(&back, obj, FG_USAGE_JSON_VERSION,
                                     &err), FG_ERR);
    expect_true(strstr(err.msg, "charged_micro") != NULL);
    json_decref(obj);

    obj = fg_usage_to_json(&rec);
    json_object_set_new(obj, "stream", json_integer(1));
    expect_int_eq(fg_usage_from_json(&back, obj, FG_USAGE_JSON_VERSION,
                                     &err), FG_ERR);
    json_decref(obj);

    obj = fg_usage_to_json(&rec);
    json_object_set_new(obj, "seq", json_integer(-1));
    expect_int_eq(fg_usage_from_json(&back, obj, FG_USAGE_JSON_VERSION,
                                     &err), FG_ERR);
    json_decref(obj);

    /* Unknown members are a later version's; they are ignored. */
    obj = fg_usage_to_json(&rec);
    json_object_set_new(obj, "renewable_percent", json_real(42.0));
    expect_int_eq(fg_usage_from_json(&back, obj, FG_USAGE_JSON_VERSION,
                                     &err), FG_OK);
    expect_true(memcmp(&rec, &back, sizeof(rec)) == 0);
    json_decref(obj);
}

static void
to_json_survives_a_record_filled_by_hand(void)
{
    fg_usage_record_t rec;
    json_t           *obj;

    /* Unterminated strings, invalid bytes, non-finite figures: still a
     * valid object, strings bounded by their arrays. */
    fg_usage_init(&rec);
    rec.seq = 1;
    memset(rec.key_id, 0xff, sizeof(rec.key_id));
    memset(rec.model_served, 'm', sizeof(rec.model_served));
    rec.energy_kwh = NAN;
    rec.carbon_g_co2 = INFINITY;
    obj = fg_usage_to_json(&rec);
    expect_true(obj != NULL);
    expect_int_eq(strlen(json_string_value(json_object_get(obj, "key_id"))),
                  sizeof(rec.key_id) - 1);
    expect_int_eq(strlen(json_string_value(json_object_get(obj,
                                                           "model_served"))),
                  FG_USAGE_MODEL_MAX);
    expect_true(json_real_value(json_object_get(obj, "energy_kwh")) == 0.0);
    expect_true(json_real_value(json_object_get(obj, "carbon_g_co2"))
                == 0.0);
    json_decref(obj);
}

/* Every string at its longest and made of quotes (each escapes to two
 * bytes), every attempt used: the worst case of the journal's line. */
static void
longest(fg_usage_record_t *rec)
{
    fg_attempt_result_t res = { FG_ATTEMPT_STATUS, 1, 503, -1, 7000, 900 };
    char                q[FG_USAGE_REQUEST_ID_MAX + 1];
    unsigned            i;

    sample(rec);
    memset(q, '"', sizeof(q) - 1);
    q[sizeof(q) - 1] = '\0';
    FG_USAGE_SET(rec->request_id, q);
    FG_USAGE_SET(rec->client_request_id, q);
    FG_USAGE_SET(rec->key_id, q);
    FG_USAGE_SET(rec->model_requested, q);
    FG_USAGE_SET(rec->model_served, q);
    FG_USAGE_SET(rec->provider, q);
    FG_USAGE_SET(rec->error_code, q);
    rec->flags = (1u << FG_USAGE_FLAG_BITS) - 1;
    for (i = 0; i < FG_USAGE_MAX_ATTEMPTS; i++) {
        res.outcome = (fg_attempt_outcome_t) (i + 1);
        res.latency_us = INT64_MIN + i;
        fg_usage_add_attempt(rec, q, q, &res);
    }
}

static void
round_trip_keeps_longest_ids_and_every_attempt(void)
{
    fg_usage_record_t rec, back;
    fg_err_t          err;
    char             *text;
    json_t           *obj, *again;

    longest(&rec);
    expect_int_eq(strlen(rec.request_id), 128);
    expect_int_eq(rec.attempts_n, FG_USAGE_MAX_ATTEMPTS);
    obj = fg_usage_to_json(&rec);
    text = json_dumps(obj, JSON_COMPACT);
    again = json_loads(text, 0, NULL);
    expect_int_eq(fg_usage_from_json(&back, again, FG_USAGE_JSON_VERSION,
                                     &err), FG_OK);
    expect_true(memcmp(&rec, &back, sizeof(rec)) == 0);
    expect_str_eq(back.client_request_id, rec.client_request_id);
    expect_int_eq(back.attempts[3].outcome, FG_ATTEMPT_SENT_NO_REPLY + 1);
    free(text);
    json_decref(again);
    json_decref(obj);
}

static void
the_longest_record_fits_the_members_buffer(void)
{
    fg_usage_record_t rec;
    static char       members[FG_USAGE_MEMBERS_MAX + 1024];
    size_t            n;

    longest(&rec);
    rec.seq = UINT64_MAX;
    rec.status = INT32_MIN;
    rec.started_unix_ms = rec.latency_us = rec.ttfb_us = INT64_MIN;
    rec.prompt_tokens = rec.completion_tokens = INT64_MIN;
    rec.reasoning_tokens = rec.cached_tokens = INT64_MIN;
    rec.charged_micro = rec.uncharged_micro = INT64_MIN;
    rec.energy_kwh = rec.carbon_g_co2 = rec.water_liters = -1.2345678e-300;
    n = fg_usage_write_members(&rec, members);
    expect_true(n < FG_USAGE_MEMBERS_MAX);
}

static void
a_fifth_attempt_is_not_kept_and_is_flagged(void)
{
    fg_usage_record_t   rec;
    fg_attempt_result_t res = { FG_ATTEMPT_CONNECT_FAILED, 0, 0, -1, 5, 0 };
    unsigned            i;

    fg_usage_init(&rec);
    for (i = 0; i < FG_USAGE_MAX_ATTEMPTS; i++) {
        fg_usage_add_attempt(&rec, "p", "m", &res);
    }
    expect_int_eq(rec.flags & FG_USAGE_ATTEMPTS_CUT, 0);
    fg_usage_add_attempt(&rec, "p5", "m5", &res);
    expect_int_eq(rec.attempts_n, FG_USAGE_MAX_ATTEMPTS);
    expect_int_eq(rec.flags & FG_USAGE_ATTEMPTS_CUT, FG_USAGE_ATTEMPTS_CUT);
    expect_str_eq(rec.attempts[FG_USAGE_MAX_ATTEMPTS - 1].provider, "p");
}

static void
attempts_and_flags_are_written_by_name(void)
{
    fg_usage_record_t   rec;
    fg_attempt_result_t res = { FG_ATTEMPT_FIRST_BYTE_TIMEOUT, 1, 0, -1,
                                30000000, 0 };
    json_t             *obj, *a;

    fg_usage_init(&rec);
    rec.flags = FG_USAGE_ESTIMATED | FG_USAGE_COMPRESSED;
    rec.api = FG_USAGE_API_RESPONSES;
    fg_usage_add_attempt(&rec, "demo", "chat-v2", &res);
    obj = fg_usage_to_json(&rec);
    a = json_object_get(obj, "flags");
    expect_int_eq(json_array_size(a), 2);
    expect_str_eq(json_string_value(json_array_get(a, 0)), "estimated");
    expect_str_eq(json_string_value(json_array_get(a, 1)), "compressed");
    expect_str_eq(json_string_value(json_object_get(obj, "api")),
                  "responses");
    a = json_array_get(json_object_get(obj, "attempts"), 0);
    expect_str_eq(json_string_value(json_object_get(a, "outcome")),
                  "first_byte_timeout");
    expect_str_eq(json_string_value(json_object_get(a, "model")), "chat-v2");
    expect_int_eq(json_integer_value(json_object_get(a, "latency_us")),
                  30000000);
    json_decref(obj);
}

static void
from_json_ignores_a_flag_of_a_later_build(void)
{
    fg_usage_record_t rec, back;
    fg_err_t          err;
    json_t           *obj;

    sample(&rec);
    obj = fg_usage_to_json(&rec);
    json_array_append_new(json_object_get(obj, "flags"),
                          json_string("quantum_routed"));
    expect_int_eq(fg_usage_from_json(&back, obj, FG_USAGE_JSON_VERSION,
                                     &err), FG_OK);
    expect_int_eq(back.flags, rec.flags);
    json_object_set_new(obj, "api", json_string("telepathy"));
    expect_int_eq(fg_usage_from_json(&back, obj, FG_USAGE_JSON_VERSION,
                                     &err), FG_ERR);
    json_decref(obj);
}

/* A line of version 1, as the 392-byte record's build wrote it. */
static const char usage_v1_line[] =
    "{\"seq\":3,\"ring\":2,\"request_id\":\"client-id-40-bytes\","
    "\"key_id\":\"key_fedcba9876543210\",\"model_requested\":\"m\","
    "\"model_served\":\"\",\"provider\":\"\",\"status\":0,"
    "\"error_code\":\"worker_lost\",\"started_unix_ms\":1767225602000,"
    "\"latency_us\":0,\"ttfb_us\":-1,\"prompt_tokens\":0,"
    "\"completion_tokens\":0,\"reasoning_tokens\":0,\"cached_tokens\":0,"
    "\"usage_estimated\":true,\"charged_micro\":5000,\"energy_kwh\":0.0,"
    "\"carbon_g_co2\":0.0,\"water_liters\":0.0,\"impact_estimated\":false,"
    "\"stream\":true,\"client_gone\":false,\"worker_lost\":true}";

static void
version_1_reads_with_new_fields_at_their_defaults(void)
{
    fg_usage_record_t rec;
    fg_err_t          err;
    json_t           *obj = json_loads(usage_v1_line, 0, NULL);

    expect_int_eq(fg_usage_from_json(&rec, obj, FG_USAGE_JSON_V1, &err),
                  FG_OK);
    expect_str_eq(rec.request_id, "client-id-40-bytes");
    expect_str_eq(rec.client_request_id, "");
    expect_int_eq(rec.flags, FG_USAGE_ESTIMATED | FG_USAGE_STREAM
                             | FG_USAGE_WORKER_LOST);
    expect_int_eq(rec.api, FG_USAGE_API_CHAT);
    expect_int_eq(rec.uncharged_micro, 0);
    expect_int_eq(rec.attempts_n, 0);
    expect_int_eq(rec.charged_micro, 5000);
    /* The same object is not a version 2 one: its members are missing. */
    expect_int_eq(fg_usage_from_json(&rec, obj, FG_USAGE_JSON_VERSION,
                                     &err), FG_ERR);
    expect_int_eq(fg_usage_from_json(&rec, obj, 3, &err), FG_ERR);
    json_decref(obj);
}

static void
members_text_is_what_jansson_prints(void)
{
    fg_usage_record_t rec;
    json_t           *obj;
    char              members[FG_USAGE_MEMBERS_MAX], *want, *got;
    size_t            n;
    double            reals[] = { 0, 1, 2.5e-7, 1e22, -3.25, 1e-300 };
    size_t            i;

    sample(&rec);
    for (i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
        rec.energy_kwh = reals[i];
        rec.carbon_g_co2 = reals[(i + 1) % 6];
        obj = fg_usage_to_json(&rec);
        json_object_del(obj, "seq");
        json_object_del(obj, "ring");
        want = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
        n = fg_usage_write_members(&rec, members);
        /* The members follow "ring": a comma where jansson has '{'. */
        got = malloc(n + 2);
        memcpy(got, members, n);
        got[0] = '{';
        got[n] = '}';
        got[n + 1] = '\0';
        expect_str_eq(got, want);
        free(got);
        free(want);
        json_decref(obj);
    }
}

FG_TEST_MAIN("usage",
             FG_TEST_CASE(members_text_is_what_jansson_prints),
             FG_TEST_CASE(round_trip_keeps_longest_ids_and_every_attempt),
             FG_TEST_CASE(the_longest_record_fits_the_members_buffer),
             FG_TEST_CASE(a_fifth_attempt_is_not_kept_and_is_flagged),
             FG_TEST_CASE(attempts_and_flags_are_written_by_name),
             FG_TEST_CASE(from_json_ignores_a_flag_of_a_later_build),
             FG_TEST_CASE(version_1_reads_with_new_fields_at_their_defaults),
             FG_TEST_CASE(the_record_has_a_fixed_size_and_no_pointers),
             FG_TEST_CASE(init_clears_every_field_and_marks_no_first_byte),
             FG_TEST_CASE(set_str_copies_a_short_value_whole),
             FG_TEST_CASE(set_str_cuts_a_long_value_and_says_so),
             FG_TEST_CASE(set_str_never_splits_a_utf8_character),
             FG_TEST_CASE(set_str_replaces_invalid_utf8_and_control_characters),
             FG_TEST_CASE(the_setter_bounds_every_field_of_a_record),
             FG_TEST_CASE(from_summary_takes_every_fact_of_the_request),
             FG_TEST_CASE(json_round_trip_is_exact_for_every_field),
             FG_TEST_CASE(from_json_refuses_a_missing_or_mistyped_member),
             FG_TEST_CASE(to_json_survives_a_record_filled_by_hand))
