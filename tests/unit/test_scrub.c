/*
 * test_scrub.c: credentials masked out of provider text (common/wire/scrub).
 */

#include "common/wire/scrub.h"

#include <stdio.h>
#include <string.h>

#include "tests/unit/fg_test.h"

static const char *const KEYS[] = { "prov-key-0123456789", NULL, "short" };

/* Scrubs a copy of @in; returns it (static, one at a time). */
static const char *
scrub(const char *in, size_t *found)
{
    static char buf[1024];
    size_t      n;

    snprintf(buf, sizeof(buf), "%s", in);
    n = fg_scrub_credentials(buf, strlen(buf), KEYS, 3);
    if (found != NULL) {
        *found = n;
    }
    return buf;
}

static void
a_known_provider_key_is_masked_wherever_it_is(void)
{
    size_t n;

    expect_str_eq(scrub("key prov-key-0123456789 and "
                        "xprov-key-0123456789x", &n),
                  "key ******************* and x*******************x");
    expect_int_eq(n, 2);
}

static void
a_bearer_token_is_masked_after_any_blanks(void)
{
    expect_str_eq(scrub("{\"authorization\":\"Bearer abc.def-1\"}", NULL),
                  "{\"authorization\":\"Bearer *********\"}");
    expect_str_eq(scrub("Authorization: bearer \t xyz", NULL),
                  "Authorization: bearer \t ***");
}

static void
an_sk_shaped_key_is_masked_masked_echoes_too(void)
{
    expect_str_eq(scrub("Incorrect API key provided: sk-evi*****cdef.", NULL),
                  "Incorrect API key provided: ***************.");
    expect_str_eq(scrub("sk_live_0123456789", NULL), "******************");
}

static void
words_that_only_look_alike_are_left_alone(void)
{
    size_t n;

    expect_str_eq(scrub("ask-me task_12345678 sk-short bearer", &n),
                  "ask-me task_12345678 sk-short bearer");
    expect_int_eq(n, 0);
    /* Known secrets shorter than FG_SCRUB_MIN_SECRET are not hunted. */
    expect_str_eq(scrub("short", NULL), "short");
}

static void
masking_keeps_the_length_and_json_valid(void)
{
    const char *in = "{\"error\":{\"message\":\"Bearer sk-0123456789abcdef\"}}";

    expect_int_eq(strlen(scrub(in, NULL)), strlen(in));
    expect_str_eq(scrub(in, NULL),
                  "{\"error\":{\"message\":\"Bearer *******************\"}}");
}

FG_TEST_MAIN("scrub",
             FG_TEST_CASE(a_known_provider_key_is_masked_wherever_it_is),
             FG_TEST_CASE(a_bearer_token_is_masked_after_any_blanks),
             FG_TEST_CASE(an_sk_shaped_key_is_masked_masked_echoes_too),
             FG_TEST_CASE(words_that_only_look_alike_are_left_alone),
             FG_TEST_CASE(masking_keeps_the_length_and_json_valid))
