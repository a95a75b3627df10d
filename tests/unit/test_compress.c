/*
 * test_compress.c: "middle-out" (common/tokens/compress) removes whole
 * messages from the middle outwards, keeps system and developer messages,
 * the first user message, the latest turn and tool calls with their
 * results, then cuts the middle out of the longest texts between
 * characters; the result always parses, validates, keeps every other
 * byte and counts (afresh) within the target.
 *
 * Conversations are built from message texts (body()), so that a test
 * states its expected body as the same list with some messages left out.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/tokens/compress.h"
#include "worker/validate.h"

#include "tests/unit/fg_test.h"
#include "tests/unit/tokenizer.h"

#define BUDGET (64 * 1024)

static void
known(fg_token_profile_t *p)
{
    fg_token_profile_default(p);
    p->bpe = fg_test_o200k();
}

/* {"model":"m","messages":[...]} of the @n messages whose bit in @skip
 * is clear; malloc'd. */
static char *
body(const char *const *msgs, size_t n, unsigned skip)
{
    size_t i, len = 64, at;
    char  *b;
    int    first = 1;

    for (i = 0; i < n; i++) {
        len += strlen(msgs[i]) + 1;
    }
    b = malloc(len);
    at = (size_t) sprintf(b, "{\"model\":\"m\",\"messages\":[");
    for (i = 0; i < n; i++) {
        if (skip & (1u << i)) {
            continue;
        }
        at += (size_t) sprintf(b + at, "%s%s", first ? "" : ",", msgs[i]);
        first = 0;
    }
    sprintf(b + at, "]}");
    return b;
}

static void
parse(const char *json, size_t len, fg_jdoc_t *doc)
{
    fg_err_t err;

    if (fg_jdoc_parse(doc, json, len, 64, &err) != FG_OK) {
        fprintf(stderr, "bad JSON: %s\n", err.msg);
        exit(1);
    }
}

/* The prompt's bounds of @json, counted as the context check counts. */
static fg_token_bounds_t
bounds(const fg_token_profile_t *p, const char *json, size_t budget)
{
    fg_jdoc_t     doc;
    fg_tokcount_t c;

    parse(json, strlen(json), &doc);
    fg_tokcount_chat(p, &doc, budget, &c);
    fg_jdoc_free(&doc);
    return c.prompt;
}

static int64_t
lower(const fg_token_profile_t *p, const char *json)
{
    return bounds(p, json, BUDGET).lower;
}

/* Compresses @json to @target; *@out NULL when it failed. */
static int
compress_budget(const fg_token_profile_t *p, const char *json, size_t budget,
                int64_t target, char **out, fg_compress_result_t *res)
{
    fg_jdoc_t doc;
    size_t    len = 0;
    int       rc;

    *out = NULL;
    memset(res, 0, sizeof(*res));
    parse(json, strlen(json), &doc);
    rc = fg_compress_chat(p, &doc, budget, target, out, &len, res);
    fg_jdoc_free(&doc);
    if (rc == FG_OK && strlen(*out) != len) {
        FG_TEST_FAIL("out_len %zu, the body is %zu bytes", len, strlen(*out));
    }
    return rc;
}

static int
compress(const fg_token_profile_t *p, const char *json, int64_t target,
         char **out, fg_compress_result_t *res)
{
    return compress_budget(p, json, BUDGET, target, out, res);
}

/* What every result must be: a valid chat request whose fresh count is
 * the one reported, within the target. */
static void
expect_sound(const fg_token_profile_t *p, const char *in, const char *out,
             size_t budget, int64_t target, const fg_compress_result_t *res)
{
    fg_jdoc_t         doc;
    fg_token_bounds_t b;
    fg_err_t          err;

    if (out == NULL) {
        FG_TEST_FAIL("no body");
        return;
    }
    if (fg_validate_chat_body(out, strlen(out), 64, &doc, NULL, &err)
        != FG_OK) {
        FG_TEST_FAIL("the result does not validate: %s", err.msg);
        return;
    }
    fg_jdoc_free(&doc);
    b = bounds(p, out, budget);
    expect_int_eq(res->prompt_lower, b.lower);
    expect_int_eq(res->prompt_upper, b.upper);
    expect_true(res->prompt_lower <= target);
    expect_int_eq(res->tokens_removed,
                  bounds(p, in, budget).lower - res->prompt_lower);
}

/* A conversation: a system prompt, the first question, then turns. */
static const char *const chat[] = {
    "{\"role\":\"system\",\"content\":\"You are terse.\"}",
    "{\"role\":\"user\",\"content\":\"first question about rivers\"}",
    "{\"role\":\"assistant\",\"content\":\"answer one about the Nile\"}",
    "{\"role\":\"user\",\"content\":\"second question about lakes\"}",
    "{\"role\":\"assistant\",\"content\":\"answer two about Baikal\"}",
    "{\"role\":\"user\",\"content\":\"third question about seas\"}",
    "{\"role\":\"assistant\",\"content\":\"answer three about the Baltic\"}",
    "{\"role\":\"user\",\"content\":\"the latest question\"}",
};
#define CHAT_N (sizeof(chat) / sizeof(chat[0]))
/* Removable: messages 2 to 6 (five units); the middle one is 4. */

/* Compresses chat[] to exactly the count of chat[] without @skip and
 * expects that very body back. */
static void
expect_removed(const fg_token_profile_t *p, unsigned skip)
{
    char                *in = body(chat, CHAT_N, 0);
    char                *want = body(chat, CHAT_N, skip);
    char                *out;
    fg_compress_result_t res;
    int64_t              target = bounds(p, want, BUDGET).lower;

    expect_int_eq(compress(p, in, target, &out, &res), FG_OK);
    if (out != NULL) {
        expect_str_eq(out, want);
        expect_int_eq(res.messages_removed, __builtin_popcount(skip));
        expect_int_eq(res.messages_truncated, 0);
        expect_sound(p, in, out, BUDGET, target, &res);
    }
    free(out);
    free(want);
    free(in);
}

static void
a_request_that_fits_comes_back_unchanged(void)
{
    fg_token_profile_t   p;
    char                *in = body(chat, CHAT_N, 0), *out;
    fg_compress_result_t res;

    known(&p);
    expect_int_eq(compress(&p, in, lower(&p, in), &out, &res), FG_OK);
    expect_str_eq(out, in);
    expect_int_eq(res.messages_removed, 0);
    expect_int_eq(res.tokens_removed, 0);
    expect_int_eq(res.prompt_lower, lower(&p, in));
    free(out);
    free(in);
}

static void
the_middle_message_goes_first(void)
{
    fg_token_profile_t p;

    known(&p);
    expect_removed(&p, 1u << 4);
}

static void
removal_grows_from_the_middle_older_side_first(void)
{
    fg_token_profile_t p;

    known(&p);
    expect_removed(&p, 1u << 4 | 1u << 3);
    expect_removed(&p, 1u << 4 | 1u << 3 | 1u << 5);
    expect_removed(&p, 1u << 4 | 1u << 3 | 1u << 5 | 1u << 2);
}

static void
removal_by_the_bounds_without_a_tokenizer(void)
{
    fg_token_profile_t p;

    fg_token_profile_default(&p);
    /* Each message's lower bound is its texts' bytes / 256, at least 1
     * a text: role and content, 2 a message. */
    expect_removed(&p, 1u << 4);
    expect_removed(&p, 1u << 4 | 1u << 3 | 1u << 5);
}

static void
the_latest_turns_are_the_last_to_go(void)
{
    fg_token_profile_t p;

    known(&p);
    /* Everything removable but the oldest and the latest turn. */
    expect_removed(&p, 1u << 3 | 1u << 4 | 1u << 5);
    /* Then the latest turn but the last message. */
    expect_removed(&p, 0x7cu);
}

/* A conversation whose every removable message is big: a target of its
 * kept messages alone removes them all. */
static void
expect_kept_when_all_else_goes(const char *const *msgs, size_t n,
                               unsigned removable, const char *must_stay)
{
    fg_token_profile_t   p;
    char                *in = body(msgs, n, 0), *out;
    char                *want = body(msgs, n, removable);
    fg_compress_result_t res;
    int64_t              target;

    known(&p);
    target = lower(&p, want);
    expect_int_eq(compress(&p, in, target, &out, &res), FG_OK);
    expect_str_eq(out, want);
    expect_true(out != NULL && strstr(out, must_stay) != NULL);
    expect_sound(&p, in, out, BUDGET, target, &res);
    free(out);
    free(want);
    free(in);
}

static void
system_and_developer_messages_are_kept(void)
{
    static const char *const msgs[] = {
        "{\"role\":\"user\",\"content\":\"hello\"}",
        "{\"role\":\"assistant\",\"content\":\"an answer to drop\"}",
        "{\"role\":\"developer\",\"content\":\"Mid-conversation rule: "
        "answer in French from now on, whatever the question is.\"}",
        "{\"role\":\"user\",\"content\":\"a question to drop\"}",
        "{\"role\":\"system\",\"content\":\"A late system note that must "
        "stay where it is in the conversation.\"}",
        "{\"role\":\"assistant\",\"content\":\"another answer to drop\"}",
        "{\"role\":\"user\",\"content\":\"last\"}",
    };

    expect_kept_when_all_else_goes(msgs, 7, 1u << 1 | 1u << 3 | 1u << 5,
                                   "Mid-conversation rule");
}

static void
the_first_user_message_is_kept(void)
{
    static const char *const msgs[] = {
        "{\"role\":\"assistant\",\"content\":\"A greeting before anyone "
        "asked anything.\"}",
        "{\"role\":\"user\",\"content\":\"the task: summarise the report "
        "below in three lines\"}",
        "{\"role\":\"assistant\",\"content\":\"a long first draft of the "
        "summary\"}",
        "{\"role\":\"user\",\"content\":\"shorter please\"}",
        "{\"role\":\"user\",\"content\":\"last\"}",
    };

    expect_kept_when_all_else_goes(msgs, 5, 1u << 0 | 1u << 2 | 1u << 3,
                                   "the task: summarise");
}

static const char *const tools[] = {
    "{\"role\":\"user\",\"content\":\"weather in two cities?\"}",
    "{\"role\":\"assistant\",\"content\":\"let me check the news first\"}",
    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
    "{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"weather\","
    "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
    "{\"id\":\"c2\",\"type\":\"function\",\"function\":{\"name\":\"weather\","
    "\"arguments\":\"{\\\"city\\\":\\\"Oslo\\\"}\"}}]}",
    "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"sunny, 24\"}",
    "{\"role\":\"tool\",\"tool_call_id\":\"c2\",\"content\":\"rain, 9\"}",
    "{\"role\":\"user\",\"content\":\"and tomorrow?\"}",
    "{\"role\":\"assistant\",\"content\":\"tomorrow looks similar\"}",
    "{\"role\":\"user\",\"content\":\"thanks\"}",
};
/* Units: 1, [2 3 4], 5, 6; the middle of four is 2-4 (the older of the
 * two middle ones). */

static void
a_tool_call_and_its_results_go_together(void)
{
    fg_token_profile_t   p;
    char                *in = body(tools, 8, 0), *out;
    char                *want = body(tools, 8, 1u << 2 | 1u << 3 | 1u << 4);
    fg_compress_result_t res;

    known(&p);
    /* One token less than the original: the whole group goes. */
    expect_int_eq(compress(&p, in, lower(&p, in) - 1, &out, &res), FG_OK);
    expect_str_eq(out, want);
    expect_int_eq(res.messages_removed, 3);
    expect_sound(&p, in, out, BUDGET, lower(&p, in) - 1, &res);
    free(out);
    free(want);
    free(in);
}

static void
a_tool_call_answered_by_the_last_message_stays_whole(void)
{
    static const char *const msgs[] = {
        "{\"role\":\"user\",\"content\":\"weather?\"}",
        "{\"role\":\"assistant\",\"content\":\"a long aside to drop about "
        "how weather is forecast\"}",
        "{\"role\":\"user\",\"content\":\"just the weather please\"}",
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
        "{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":"
        "\"weather\",\"arguments\":\"{}\"}}]}",
        "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"sunny\"}",
    };

    expect_kept_when_all_else_goes(msgs, 5, 1u << 1 | 1u << 2,
                                   "\"tool_calls\"");
}

/* A @role message of @n words "word<from> word<from + 1> ...". */
static char *
words_message(const char *role, size_t from, size_t n)
{
    char  *m = malloc(n * 16 + 64);
    size_t at, i;

    at = (size_t) sprintf(m, "{\"role\":\"%s\",\"content\":\"", role);
    for (i = from; i < from + n; i++) {
        at += (size_t) sprintf(m + at, "word%zu ", i);
    }
    sprintf(m + at, "\"}");
    return m;
}

static void
a_huge_only_message_is_cut_in_the_middle(void)
{
    fg_token_profile_t   p;
    char                *msg = words_message("user", 0, 4000), *in, *out;
    const char          *msgs[1];
    fg_compress_result_t res;
    int64_t              target;

    known(&p);
    msgs[0] = msg;
    in = body(msgs, 1, 0);
    target = lower(&p, in) / 3;
    expect_int_eq(compress(&p, in, target, &out, &res), FG_OK);
    expect_int_eq(res.messages_removed, 0);
    expect_int_eq(res.messages_truncated, 1);
    expect_sound(&p, in, out, BUDGET, target, &res);
    if (out != NULL) {
        /* Head and tail kept, the marker between, no more cut than fits
         * (to about 1 % of the target). */
        expect_true(strstr(out, "\"content\":\"word0 word1 word2 ") != NULL);
        expect_true(strstr(out, "word3998 word3999 \"}]}") != NULL);
        expect_true(strstr(out, FG_COMPRESS_MARKER) != NULL);
        expect_true(res.prompt_lower >= target - target / 128 - 4);
    }
    free(out);
    free(in);
    free(msg);
}

static void
the_longest_text_is_cut_first(void)
{
    fg_token_profile_t   p;
    char                *big = words_message("user", 0, 3000);
    char                *mid = words_message("assistant", 5000, 300), *in, *out;
    const char          *msgs[3];
    fg_compress_result_t res;
    int64_t              target;

    known(&p);
    msgs[0] = mid;    /* the first message: an assistant's, removable */
    msgs[1] = big;    /* the first user message */
    msgs[2] = "{\"role\":\"user\",\"content\":\"and a short last one that "
              "is long enough to be cut if it were chosen\"}";
    in = body(msgs, 3, 0);
    target = (lower(&p, in) - lower(&p, mid)) / 2;
    expect_int_eq(compress(&p, in, target, &out, &res), FG_OK);
    expect_int_eq(res.messages_removed, 1);
    expect_int_eq(res.messages_truncated, 1);
    expect_sound(&p, in, out, BUDGET, target, &res);
    expect_true(out != NULL && strstr(out, msgs[2]) != NULL);
    free(out);
    free(in);
    free(mid);
    free(big);
}

/* The decoded content of the only message of @json; malloc'd. */
static char *
only_content(const char *json)
{
    fg_jdoc_t doc;
    char     *s;
    int       msg;

    parse(json, strlen(json), &doc);
    msg = fg_jdoc_first(&doc, fg_jdoc_get(&doc, 0, "messages"));
    s = fg_jdoc_str_dup(&doc, fg_jdoc_get(&doc, msg, "content"));
    fg_jdoc_free(&doc);
    return s;
}

/* @cut is a head of @whole, the marker, and a tail of it. */
static void
expect_head_marker_tail(const char *whole, const char *cut)
{
    const char *mark = strstr(cut, "\n[\xe2\x80\xa6]\n");
    size_t      head, tail;

    if (mark == NULL) {
        FG_TEST_FAIL("no marker in the cut text");
        return;
    }
    head = (size_t) (mark - cut);
    tail = strlen(mark + 7);
    expect_true(head + tail < strlen(whole));
    expect_true(memcmp(cut, whole, head) == 0);
    expect_true(memcmp(mark + 7, whole + strlen(whole) - tail, tail) == 0);
}

/* A single user message of @n repetitions of @unit (raw JSON text), cut
 * for a span of targets: each result parses, validates, fits, and its
 * text is the original's head and tail around the marker. */
static void
expect_cut_safely(const fg_token_profile_t *p, const char *unit, size_t n)
{
    size_t               ul = strlen(unit), i;
    char                *in = malloc(ul * n + 128), *out, *whole, *cut;
    size_t               at;
    fg_compress_result_t res;
    int64_t              full, target;

    at = (size_t) sprintf(in, "{\"model\":\"m\",\"messages\":[{\"role\":"
                              "\"user\",\"content\":\"");
    for (i = 0; i < n; i++) {
        memcpy(in + at, unit, ul);
        at += ul;
    }
    sprintf(in + at, "\"}]}");
    full = lower(p, in);
    whole = only_content(in);
    for (target = full / 10; target < full; target += full / 7 + 1) {
        expect_int_eq(compress(p, in, target, &out, &res), FG_OK);
        expect_sound(p, in, out, BUDGET, target, &res);
        expect_int_eq(res.messages_truncated, 1);
        if (out != NULL) {
            cut = only_content(out);
            expect_head_marker_tail(whole, cut);
            free(cut);
        }
        free(out);
    }
    free(whole);
    free(in);
}

static void
multibyte_text_is_cut_between_characters(void)
{
    fg_token_profile_t p;

    /* é, 中, 😀: two, three and four bytes; every offset of a cut. */
    known(&p);
    expect_cut_safely(&p, "\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80" "a", 2000);
    fg_token_profile_default(&p);
    expect_cut_safely(&p, "\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80" "a", 2000);
}

static void
escaped_text_is_cut_between_escapes(void)
{
    fg_token_profile_t p;

    /* \n, \", \\, \u00e9 and a surrogate pair, never cut inside. */
    known(&p);
    expect_cut_safely(&p, "a\\n\\\"\\\\\\u00e9\\ud83d\\ude00b", 2000);
    fg_token_profile_default(&p);
    expect_cut_safely(&p, "a\\n\\\"\\\\\\u00e9\\ud83d\\ude00b", 2000);
}

/*
 * A string cut to its least keeps FG_COMPRESS_EDGE_MIN raw bytes at each
 * end less the part of a character the cut would split: of surrogate
 * pairs (12 bytes each), two at each end (24 bytes), never 32 bytes with
 * a pair split (fuzz_compress found the header promising 32).
 */
static void
a_least_cut_keeps_whole_characters_at_its_ends(void)
{
    static const char pair[] = "\\ud83d\\ude00";
    fg_token_profile_t    p;
    char                 *in = malloc(64 * 12 + 128), *want = malloc(256);
    char                 *out;
    fg_compress_result_t  res;
    size_t                at, i;

    known(&p);
    at = (size_t) sprintf(in, "{\"model\":\"m\",\"messages\":[{\"role\":"
                              "\"user\",\"content\":\"");
    for (i = 0; i < 64; i++) {
        at += (size_t) sprintf(in + at, "%s", pair);
    }
    sprintf(in + at, "\"}]}");
    sprintf(want, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                  "\"content\":\"%s%s%s%s%s\"}]}", pair, pair,
            FG_COMPRESS_MARKER, pair, pair);
    expect_int_eq(compress(&p, in, lower(&p, want), &out, &res), FG_OK);
    expect_str_eq(out, want);
    expect_int_eq(res.messages_truncated, 1);
    expect_sound(&p, in, out, BUDGET, lower(&p, want), &res);
    free(out);
    free(want);
    free(in);
}

static void
text_parts_are_cut_and_images_never(void)
{
    fg_token_profile_t   p;
    char                *in, *out;
    char                *url = malloc(50000), *parts = malloc(90000);
    size_t               i, at;
    fg_compress_result_t res;
    int64_t              target;

    known(&p);
    at = (size_t) sprintf(url, "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg"
                               "AABAAAAAQACAYAAAB/HSuD");
    for (i = 0; i < 40000; i++) {
        url[at++] = 'A';
    }
    url[at] = '\0';
    at = (size_t) sprintf(parts, "{\"model\":\"m\",\"messages\":[{\"role\":"
                                 "\"user\",\"content\":[{\"type\":\"text\","
                                 "\"text\":\"");
    for (i = 0; i < 3000; i++) {
        at += (size_t) sprintf(parts + at, "part%zu ", i);
    }
    at += (size_t) sprintf(parts + at, "\"},{\"type\":\"image_url\","
                                       "\"image_url\":{\"url\":\"%s\"}}]}]}",
                           url);
    in = parts;
    target = lower(&p, in) / 2;
    expect_int_eq(compress(&p, in, target, &out, &res), FG_OK);
    expect_sound(&p, in, out, BUDGET, target, &res);
    expect_true(out != NULL && strstr(out, url) != NULL);
    expect_true(out != NULL && strstr(out, FG_COMPRESS_MARKER) != NULL);
    free(out);
    free(url);
    free(in);
}

static void
an_impossible_target_is_an_error(void)
{
    fg_token_profile_t   p;
    char                *in = body(chat, CHAT_N, 0);
    char                *out = (char *) "untouched";
    size_t               len = 7;
    fg_compress_result_t res;
    fg_jdoc_t            doc;

    known(&p);
    memset(&res, 0x5a, sizeof(res));
    parse(in, strlen(in), &doc);
    /* The system prompt, the first question and the last one: none long
     * enough to cut, and together more than 10 tokens. */
    expect_int_eq(fg_compress_chat(&p, &doc, BUDGET, 10, &out, &len, &res),
                  FG_ERR);
    expect_str_eq(out, "untouched");
    expect_int_eq(len, 7);
    expect_int_eq(res.messages_removed, 0x5a5a5a5a5a5a5a5aLL);
    fg_jdoc_free(&doc);
    free(in);
}

static void
every_other_byte_is_kept(void)
{
    static const char in[] =
        "{ \"temperature\" : 0.70,\n  \"messages\" : [\n"
        "    {\"role\":\"user\",\"content\":\"first\"} ,\n"
        "    {\"content\":\"drop me, I am in the middle\", \"role\":"
        "\"assistant\"} ,\n"
        "    {\"role\":\"user\",\"content\":\"last\"}\n  ],\n"
        "  \"model\":\"m\", \"x_vendor\":{\"k\":[1, 2.50e1]},\n"
        "  \"user\":\"caf\\u00e9\"\n}";
    static const char want[] =
        "{ \"temperature\" : 0.70,\n  \"messages\" : [\n"
        "    {\"role\":\"user\",\"content\":\"first\"} ,\n"
        "    {\"role\":\"user\",\"content\":\"last\"}\n  ],\n"
        "  \"model\":\"m\", \"x_vendor\":{\"k\":[1, 2.50e1]},\n"
        "  \"user\":\"caf\\u00e9\"\n}";
    fg_token_profile_t   p;
    char                *out;
    fg_compress_result_t res;

    known(&p);
    expect_int_eq(compress(&p, in, lower(&p, want), &out, &res), FG_OK);
    expect_str_eq(out, want);
    expect_sound(&p, in, out, BUDGET, lower(&p, want), &res);
    free(out);
}

/*
 * With little of the exact-count budget, removing a message counted
 * exactly lets later text, bounded before, be counted exactly: the
 * prompt shrinks by less than the removed message's count. The result
 * still fits, counted afresh.
 */
static void
budget_freed_by_a_removal_is_counted(void)
{
    fg_token_profile_t   p;
    const char          *msgs[12];
    char                *in, *out;
    fg_compress_result_t res;
    fg_jdoc_t            doc;
    fg_tokcount_t        c;
    size_t               i, budget = 3000, left = budget;
    int64_t              target, in_place = 0;
    int                  msg;

    known(&p);
    msgs[0] = "{\"role\":\"user\",\"content\":\"a question\"}";
    for (i = 1; i < 12; i++) {
        msgs[i] = words_message(i % 2 ? "assistant" : "user", i * 100, 60);
    }
    in = body(msgs, 12, 0);
    target = bounds(&p, in, budget).lower * 2 / 3;
    expect_int_eq(compress_budget(&p, in, budget, target, &out, &res),
                  FG_OK);
    expect_sound(&p, in, out, budget, target, &res);
    /* What the removed messages counted where they stood is more than the
     * prompt lost. */
    parse(in, strlen(in), &doc);
    msg = fg_jdoc_first(&doc, fg_jdoc_get(&doc, 0, "messages"));
    for (i = 0; i < 12; i++, msg = doc.nodes[msg].end) {
        fg_tokcount_message(&p, &doc, msg, &left, &c);
        if (out != NULL && strstr(out, msgs[i]) == NULL) {
            in_place += c.prompt.lower;
        }
    }
    fg_jdoc_free(&doc);
    expect_true(in_place > res.tokens_removed);
    free(out);
    free(in);
    for (i = 1; i < 12; i++) {
        free((char *) msgs[i]);
    }
}

static unsigned rnd_seed = 2024;

static unsigned
rnd(unsigned n)
{
    rnd_seed = rnd_seed * 1103515245u + 12345u;
    return (rnd_seed >> 8) % n;
}

/* Random text of @n pieces: words, escapes, multibyte characters. */
static size_t
rnd_text(char *at, size_t n)
{
    static const char *const pieces[] = {
        "lorem ", "ipsum ", "\\n", "\\\"", "\\u00e9", "\\ud83d\\ude00",
        "\xe4\xb8\xad", "\xc3\xa9", "42 ", "\\\\", "x",
    };
    size_t len = 0, i;

    for (i = 0; i < n; i++) {
        const char *piece = pieces[rnd(sizeof(pieces) / sizeof(pieces[0]))];

        memcpy(at + len, piece, strlen(piece));
        len += strlen(piece);
    }
    return len;
}

/* A random valid conversation; malloc'd. Tool messages come only right
 * after an assistant's tool call. */
static char *
rnd_conversation(void)
{
    char  *b = malloc(200000);
    size_t at, i, n = 1 + rnd(10), t;

    at = (size_t) sprintf(b, "{\"model\":\"m\",\"messages\":[");
    for (i = 0; i < n; i++) {
        if (i > 0) {
            b[at++] = ',';
        }
        switch (rnd(6)) {
        case 0:
            at += (size_t) sprintf(b + at, "{\"role\":\"%s\",\"content\":\"",
                                   rnd(2) ? "system" : "developer");
            at += rnd_text(b + at, rnd(40));
            at += (size_t) sprintf(b + at, "\"}");
            break;
        case 1:
            at += (size_t) sprintf(b + at, "{\"role\":\"assistant\","
                                   "\"content\":null,\"tool_calls\":[{"
                                   "\"id\":\"c%zu\",\"type\":\"function\","
                                   "\"function\":{\"name\":\"f\","
                                   "\"arguments\":\"{}\"}}]}", i);
            for (t = rnd(3) + 1; t > 0; t--) {
                at += (size_t) sprintf(b + at, ",{\"role\":\"tool\","
                                       "\"tool_call_id\":\"c%zu\","
                                       "\"content\":\"", i);
                at += rnd_text(b + at, rnd(200));
                at += (size_t) sprintf(b + at, "\"}");
            }
            break;
        case 2:
            at += (size_t) sprintf(b + at, "{\"role\":\"user\",\"content\":["
                                   "{\"type\":\"text\",\"text\":\"");
            at += rnd_text(b + at, rnd(300));
            at += (size_t) sprintf(b + at, "\"},{\"type\":\"image_url\","
                                   "\"image_url\":{\"url\":\"https://e.com/"
                                   "a.png\"}},{\"type\":\"text\",\"text\":\"");
            at += rnd_text(b + at, rnd(300));
            at += (size_t) sprintf(b + at, "\"}]}");
            break;
        default:
            at += (size_t) sprintf(b + at, "{\"role\":\"%s\",\"content\":\"",
                                   rnd(2) ? "user" : "assistant");
            at += rnd_text(b + at, rnd(600));
            at += (size_t) sprintf(b + at, "\"}");
            break;
        }
    }
    sprintf(b + at, "]}");
    return b;
}

/* Every tool message of @json follows a tool call or another result. */
static void
expect_groups_whole(const char *json)
{
    fg_jdoc_t doc;
    int       msg, prev = FG_JNONE, messages;

    parse(json, strlen(json), &doc);
    messages = fg_jdoc_get(&doc, 0, "messages");
    for (msg = fg_jdoc_first(&doc, messages); msg != FG_JNONE;
         prev = msg, msg = fg_jdoc_next(&doc, messages, msg)) {
        if (fg_jdoc_str_eq(&doc, fg_jdoc_get(&doc, msg, "role"), "tool")) {
            expect_true(prev != FG_JNONE
                        && (fg_jdoc_get(&doc, prev, "tool_calls") != FG_JNONE
                            || fg_jdoc_str_eq(&doc, fg_jdoc_get(&doc, prev,
                                                                "role"),
                                              "tool")));
        }
    }
    fg_jdoc_free(&doc);
}

/* Random conversations, budgets and targets, with and without a
 * tokenizer: every result is sound, keeps its groups whole, and a target
 * the request meets always succeeds. */
static void
every_result_validates_and_counts_afresh_within_its_target(void)
{
    fg_token_profile_t   p;
    char                *in, *out;
    fg_compress_result_t res;
    int64_t              full, target;
    size_t               budget;
    int                  i, rc, ok = 0;

    for (i = 0; i < 300; i++) {
        if (i % 2) {
            known(&p);
        } else {
            fg_token_profile_default(&p);
        }
        budget = i % 3 == 0 ? BUDGET : i % 3 == 1 ? 700 : 0;
        in = rnd_conversation();
        full = bounds(&p, in, budget).lower;
        target = (int64_t) rnd((unsigned) full + 2);
        rc = compress_budget(&p, in, budget, target, &out, &res);
        if (target >= full) {
            expect_int_eq(rc, FG_OK);
        }
        if (rc == FG_OK) {
            ok++;
            expect_sound(&p, in, out, budget, target, &res);
            expect_groups_whole(out);
        }
        free(out);
        free(in);
    }
    /* Most targets can be met. */
    expect_true(ok > 150);
}

FG_TEST_MAIN("compress",
             FG_TEST_CASE(a_request_that_fits_comes_back_unchanged),
             FG_TEST_CASE(the_middle_message_goes_first),
             FG_TEST_CASE(removal_grows_from_the_middle_older_side_first),
             FG_TEST_CASE(removal_by_the_bounds_without_a_tokenizer),
             FG_TEST_CASE(the_latest_turns_are_the_last_to_go),
             FG_TEST_CASE(system_and_developer_messages_are_kept),
             FG_TEST_CASE(the_first_user_message_is_kept),
             FG_TEST_CASE(a_tool_call_and_its_results_go_together),
             FG_TEST_CASE(a_tool_call_answered_by_the_last_message_stays_whole),
             FG_TEST_CASE(a_huge_only_message_is_cut_in_the_middle),
             FG_TEST_CASE(the_longest_text_is_cut_first),
             FG_TEST_CASE(multibyte_text_is_cut_between_characters),
             FG_TEST_CASE(escaped_text_is_cut_between_escapes),
             FG_TEST_CASE(a_least_cut_keeps_whole_characters_at_its_ends),
             FG_TEST_CASE(text_parts_are_cut_and_images_never),
             FG_TEST_CASE(an_impossible_target_is_an_error),
             FG_TEST_CASE(every_other_byte_is_kept),
             FG_TEST_CASE(budget_freed_by_a_removal_is_counted),
             FG_TEST_CASE(every_result_validates_and_counts_afresh_within_its_target))
