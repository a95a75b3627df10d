/*
 * test_tokcount.c: the prompt estimator (common/tokens/tokcount) gives the
 * exact chat-template count under a shipped tokenizer, proven bounds
 * without one, images by the model's formula, and never a lower bound
 * above the upper one.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/tokens/tokcount.h"

#include "tests/unit/fg_test.h"
#include "tests/unit/tokenizer.h"

#define BUDGET (64 * 1024)

/* A 1024 x 1024 and a 4096 x 8192 PNG: signature and IHDR only. */
#define PNG_1024 "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAABAAAAAQACAYAAAB/HSuD"
#define PNG_4096_8192 \
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAEAAAACAACAYAAABawIFF"

/* The exact count of @s under o200k_base. */
static int64_t
tokens(const char *s)
{
    fg_token_bounds_t b = { 0, 0 };

    fg_bpe_count(fg_test_o200k(), s, strlen(s), &b);
    return b.lower;
}

static void
count(const fg_token_profile_t *p, const char *json, size_t budget,
      fg_tokcount_t *out)
{
    fg_jdoc_t doc;
    fg_err_t  err;

    if (fg_jdoc_parse(&doc, json, strlen(json), 64, &err) != FG_OK) {
        fprintf(stderr, "bad test JSON: %s\n", err.msg);
        exit(1);
    }
    fg_tokcount_chat(p, &doc, budget, out);
    fg_jdoc_free(&doc);
}

static void
known(fg_token_profile_t *p)
{
    fg_token_profile_default(p);
    p->bpe = fg_test_o200k();
}

static void
a_message_is_counted_as_the_cookbook_counts_it(void)
{
    fg_token_profile_t p;
    fg_tokcount_t      c;

    known(&p);
    count(&p, "{\"messages\":[{\"role\":\"user\",\"content\":\"hello "
              "gateway\"}]}", BUDGET, &c);
    expect_int_eq(c.prompt.lower, 3 + tokens("user")
                                  + tokens("hello gateway") + 3);
    expect_int_eq(c.prompt.upper, c.prompt.lower);
}

static void
a_name_costs_its_tokens_and_one_more(void)
{
    fg_token_profile_t p;
    fg_tokcount_t      c;

    known(&p);
    count(&p, "{\"messages\":[{\"role\":\"user\",\"name\":\"ada\","
              "\"content\":\"hi\"}]}", BUDGET, &c);
    expect_int_eq(c.prompt.lower, 3 + tokens("user") + tokens("ada") + 1
                                  + tokens("hi") + 3);
}

static void
escaped_text_is_counted_decoded(void)
{
    fg_token_profile_t p;
    fg_tokcount_t      c;

    known(&p);
    count(&p, "{\"messages\":[{\"role\":\"user\",\"content\":"
              "\"line one\\nline \\u4e8c\"}]}", BUDGET, &c);
    expect_int_eq(c.text.lower, tokens("user")
                                + tokens("line one\nline \xe4\xba\x8c"));
    expect_int_eq(c.prompt.upper, c.prompt.lower);
}

static void
text_parts_are_counted_like_a_string(void)
{
    fg_token_profile_t p;
    fg_tokcount_t      a, b;

    known(&p);
    count(&p, "{\"messages\":[{\"role\":\"user\",\"content\":\"abc def\"}]}",
          BUDGET, &a);
    count(&p, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
              "\"text\",\"text\":\"abc def\"}]}]}", BUDGET, &b);
    expect_int_eq(a.prompt.lower, b.prompt.lower);
}

static void
text_past_the_budget_is_bounded_by_its_bytes(void)
{
    fg_token_profile_t p;
    fg_tokcount_t      c;

    known(&p);
    count(&p, "{\"messages\":[{\"role\":\"user\",\"content\":\"hello "
              "gateway\"}]}", 4, &c);
    /* "user" fits the 4-byte budget; the content does not. */
    expect_int_eq(c.exact_bytes, 4);
    expect_int_eq(c.bounded_bytes, 13);
    expect_int_eq(c.prompt.upper, 3 + tokens("user") + 13 + 3);
    expect_int_eq(c.prompt.lower, 3 + tokens("user") + 1 + 3);
}

static void
without_a_tokenizer_text_is_at_most_its_bytes(void)
{
    fg_token_profile_t p;
    fg_tokcount_t      c;

    fg_token_profile_default(&p);
    count(&p, "{\"messages\":[{\"role\":\"user\",\"content\":\"\xe4\xbd\xa0"
              "\xe5\xa5\xbd\"}]}", BUDGET, &c);
    expect_int_eq(c.prompt.upper, FG_TOKCOUNT_TEMPLATE_MAX + 4 + 6
                                  + FG_TOKCOUNT_TEMPLATE_MAX);
    /* One token per 256 bytes at least, of each text: role, content. */
    expect_int_eq(c.prompt.lower, 2);
}

static void
an_inline_image_costs_the_formula_of_its_real_size(void)
{
    fg_token_profile_t p;
    fg_tokcount_t      c;

    known(&p);
    count(&p, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
              "\"image_url\",\"image_url\":{\"url\":\"" PNG_1024 "\","
              "\"detail\":\"high\"}}]}]}", BUDGET, &c);
    /* 1024 x 1024 -> 768 x 768: 4 tiles, 85 + 4 x 170. */
    expect_int_eq(c.images.lower, 765);
    expect_int_eq(c.images.upper, 765);
    expect_int_eq(c.image_count, 1);
}

static void
a_low_detail_image_costs_the_base(void)
{
    fg_token_profile_t p;
    fg_tokcount_t      c;

    known(&p);
    count(&p, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
              "\"image_url\",\"image_url\":{\"url\":\"" PNG_4096_8192 "\","
              "\"detail\":\"low\"}}]}]}", BUDGET, &c);
    expect_int_eq(c.images.upper, 85);
}

static void
a_remote_image_spans_the_formulas_range(void)
{
    fg_token_profile_t p;
    fg_tokcount_t      c;

    known(&p);
    count(&p, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
              "\"image_url\",\"image_url\":{\"url\":\"https://example.com/"
              "a.png\"}}]}]}", BUDGET, &c);
    /* auto: low (85) at least, high's maximum (85 + 8 x 170) at most. */
    expect_int_eq(c.images.lower, 85);
    expect_int_eq(c.images.upper, 1445);
}

static void
the_mini_formula_prices_an_image_far_higher(void)
{
    fg_token_profile_t p;
    fg_tokcount_t      c;

    known(&p);
    p.image.base = 2833;
    p.image.per_tile = 5667;
    count(&p, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
              "\"image_url\",\"image_url\":{\"url\":\"" PNG_1024 "\","
              "\"detail\":\"high\"}}]}]}", BUDGET, &c);
    expect_int_eq(c.images.upper, 2833 + 4 * 5667);
}

static void
tool_calls_count_their_name_and_arguments(void)
{
    fg_token_profile_t p;
    fg_tokcount_t      c;

    known(&p);
    count(&p, "{\"messages\":[{\"role\":\"assistant\",\"content\":null,"
              "\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
              "\"function\":{\"name\":\"get_weather\",\"arguments\":"
              "\"{\\\"city\\\":\\\"Paris\\\"}\"}}]}]}", BUDGET, &c);
    expect_int_eq(c.prompt.lower, 3 + tokens("assistant")
                                  + tokens("get_weather")
                                  + tokens("{\"city\":\"Paris\"}") + 3 + 3);
}

static void
tools_lie_between_the_cookbook_and_their_json(void)
{
    static const char body[] =
        "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
        "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\","
        "\"description\":\"Gets it.\",\"parameters\":{\"type\":\"object\","
        "\"properties\":{\"unit\":{\"type\":\"string\",\"description\":"
        "\"The unit\",\"enum\":[\"c\",\"f\"]}}}}}]}";
    fg_token_profile_t p;
    fg_tokcount_t      c;
    int64_t            cookbook;

    known(&p);
    count(&p, body, BUDGET, &c);
    cookbook = 7 + tokens("f:Gets it") + 3 + 3 + (-3) + 3 + tokens("c")
               + 3 + tokens("f") + tokens("unit:string:The unit") + 12;
    expect_int_eq(c.tools.lower, cookbook);
    expect_true(c.tools.upper >= c.tools.lower);
}

static void
a_json_schema_raises_only_the_upper_bound(void)
{
    fg_token_profile_t p;
    fg_tokcount_t      a, b;

    known(&p);
    count(&p, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
          BUDGET, &a);
    count(&p, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
              "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
              "{\"name\":\"x\",\"schema\":{\"type\":\"object\"}}}}",
          BUDGET, &b);
    expect_int_eq(b.prompt.lower, a.prompt.lower);
    expect_true(b.prompt.upper > a.prompt.upper);
}

static void
the_pieces_add_up_to_the_whole_count(void)
{
    static const char body[] =
        "{\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
        "{\"role\":\"user\",\"name\":\"ada\",\"content\":[{\"type\":"
        "\"text\",\"text\":\"a long enough question to pass the budget\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"" PNG_1024 "\"}}]},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"
        "\"c1\",\"type\":\"function\",\"function\":{\"name\":\"f\","
        "\"arguments\":\"{\\\"a\\\":1}\"}}]},{\"role\":\"tool\","
        "\"tool_call_id\":\"c1\",\"content\":\"ok\"}],"
        "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\","
        "\"description\":\"Does it.\"}}]}";
    fg_token_profile_t p;
    fg_tokcount_t      whole, piece;
    fg_token_bounds_t  sum;
    fg_jdoc_t          doc;
    fg_err_t           err;
    size_t             budget, k;
    int                messages, msg, known_tokenizer;

    if (fg_jdoc_parse(&doc, body, strlen(body), 64, &err) != FG_OK) {
        fprintf(stderr, "bad test JSON: %s\n", err.msg);
        exit(1);
    }
    messages = fg_jdoc_get(&doc, 0, "messages");
    /* With and without a tokenizer; a budget that runs out mid-way. */
    for (known_tokenizer = 0; known_tokenizer < 2; known_tokenizer++) {
        if (known_tokenizer) {
            known(&p);
        } else {
            fg_token_profile_default(&p);
        }
        for (k = 0; k < 3; k++) {
            budget = k == 0 ? BUDGET : k == 1 ? 20 : 0;
            fg_tokcount_chat(&p, &doc, budget, &whole);
            sum.lower = sum.upper = 0;
            for (msg = fg_jdoc_first(&doc, messages); msg != FG_JNONE;
                 msg = fg_jdoc_next(&doc, messages, msg)) {
                fg_tokcount_message(&p, &doc, msg, &budget, &piece);
                fg_token_bounds_add(&sum, &piece.prompt);
            }
            fg_tokcount_chat_rest(&p, &doc, &budget, &piece);
            fg_token_bounds_add(&sum, &piece.prompt);
            expect_int_eq(sum.lower, whole.prompt.lower);
            expect_int_eq(sum.upper, whole.prompt.upper);
        }
    }
    fg_jdoc_free(&doc);
}

/* Random messages of random UTF-8 text, with and without a tokenizer and
 * a budget: lower <= upper, and a known tokenizer's lower bound is the
 * sum of exact counts whenever everything was counted exactly. */
static void
the_lower_bound_never_passes_the_upper(void)
{
    static const char *alphabet[] = {
        "a", "Z", " ", "\\n", "7", "\xe4\xb8\xad", "\xf0\x9f\x98\x80", "'s",
        "\\\"", "<", "\xd0\x96", "\\t", "  ", "ing", "\xe3\x81\x82"
    };
    char               body[8192];
    size_t             at, k, i, n;
    unsigned           seed = 12345;
    fg_token_profile_t p;
    fg_tokcount_t      c;

    for (i = 0; i < 400; i++) {
        at = (size_t) snprintf(body, sizeof(body),
                               "{\"messages\":[{\"role\":\"user\","
                               "\"content\":\"");
        n = (seed = seed * 1103515245 + 12345) % 300;
        for (k = 0; k < n; k++) {
            const char *s = alphabet[(seed = seed * 1103515245 + 12345)
                                     % (sizeof(alphabet)
                                        / sizeof(alphabet[0]))];

            memcpy(body + at, s, strlen(s));
            at += strlen(s);
        }
        memcpy(body + at, "\"}]}", 5);
        if (i % 2 == 0) {
            known(&p);
        } else {
            fg_token_profile_default(&p);
        }
        count(&p, body, i % 3 == 0 ? 16 : BUDGET, &c);
        expect_true(c.prompt.lower <= c.prompt.upper);
        expect_true(c.prompt.lower >= 0);
    }
}

FG_TEST_MAIN("tokcount",
             FG_TEST_CASE(a_message_is_counted_as_the_cookbook_counts_it),
             FG_TEST_CASE(a_name_costs_its_tokens_and_one_more),
             FG_TEST_CASE(escaped_text_is_counted_decoded),
             FG_TEST_CASE(text_parts_are_counted_like_a_string),
             FG_TEST_CASE(text_past_the_budget_is_bounded_by_its_bytes),
             FG_TEST_CASE(without_a_tokenizer_text_is_at_most_its_bytes),
             FG_TEST_CASE(an_inline_image_costs_the_formula_of_its_real_size),
             FG_TEST_CASE(a_low_detail_image_costs_the_base),
             FG_TEST_CASE(a_remote_image_spans_the_formulas_range),
             FG_TEST_CASE(the_mini_formula_prices_an_image_far_higher),
             FG_TEST_CASE(tool_calls_count_their_name_and_arguments),
             FG_TEST_CASE(tools_lie_between_the_cookbook_and_their_json),
             FG_TEST_CASE(a_json_schema_raises_only_the_upper_bound),
             FG_TEST_CASE(the_pieces_add_up_to_the_whole_count),
             FG_TEST_CASE(the_lower_bound_never_passes_the_upper))
