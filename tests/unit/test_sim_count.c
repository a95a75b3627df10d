/*
 * test_sim_count.c: fg-sim counts a prompt's tokens as a real tokenizer
 * would (tests/sim/count.c, rules at the top of tests/sim/plan.c): the
 * cookbook's frame around exact BPE counts, the dense mode, images,
 * audio, tool definitions and calls, and the tags that choose the mode.
 *
 * A text's BPE count is what js-tiktoken, the reference implementation,
 * gives it, not what the code under test does: every text counted below
 * is in tests/fixtures/tokens/corpus.json, whose ids tests/run.sh writes
 * to $FG_TOKENS_REFERENCE (without it the tests that need it fail).
 */

#include "tests/sim/count.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tests/unit/fg_test.h"

/* A PNG's signature, IHDR (1024 x 1024, RGB) and IEND: all a size reader
 * needs. Python: signature + chunk(b'IHDR', pack('>IIBBBBB', 1024, 1024,
 * 8, 2, 0, 0, 0)) + chunk(b'IEND', b''), base64. */
#define PNG_1024_URL "data:image/png;base64," \
    "iVBORw0KGgoAAAANSUhEUgAABAAAAAQACAIAAADwf7zUAAAAAElFTkSuQmCC"

/* 3 to prime the reply, 3 per message. */
#define REPLY       3
#define MESSAGE     3

static fg_sim_tokenizers_t toks;
static int is_loaded;

/* The reference file, loaded once; NULL (and one failure) if missing. */
static json_t *
reference(void)
{
    static json_t *ref;
    static int is_tried;
    const char *path = getenv("FG_TOKENS_REFERENCE");
    json_error_t jerr;

    if (is_tried) {
        return ref;
    }
    is_tried = 1;
    if (path == NULL) {
        FG_TEST_FAIL("FG_TOKENS_REFERENCE is not set: run tests/run.sh");
        return NULL;
    }
    ref = json_load_file(path, JSON_ALLOW_NUL, &jerr);
    if (ref == NULL) {
        FG_TEST_FAIL("%s: %s", path, jerr.text);
    }
    return ref;
}

/* js-tiktoken's count of @text in @encoding; -1 (and a failure) if the
 * reference lacks it. */
static int64_t
tiktoken(const char *encoding, const char *text)
{
    json_t *ref = reference(), *texts, *ids;
    size_t i;

    texts = json_object_get(ref, "texts");
    ids = json_object_get(json_object_get(ref, encoding), "ids");
    for (i = 0; i < json_array_size(texts); i++) {
        if (strcmp(json_string_value(json_array_get(texts, i)), text) == 0
            && json_is_array(json_array_get(ids, i)))
        {
            return (int64_t) json_array_size(json_array_get(ids, i));
        }
    }
    if (ref != NULL) {
        FG_TEST_FAIL("no %s reference for \"%s\": add it to the corpus",
                     encoding, text);
    }
    return -1;
}

#define o200k(text)   tiktoken("o200k_base", (text))
#define cl100k(text)  tiktoken("cl100k_base", (text))

/* The shipped tokenizers, loaded once for every test. */
static const fg_sim_tokenizers_t *
shipped(fg_sim_tok_t default_tok)
{
    fg_err_t err;

    if (!is_loaded) {
        if (fg_sim_tokenizers_load(&toks, FG_SYSCONFDIR "/tokenizers",
                                   &err) != 0)
        {
            fprintf(stderr, "cannot load the tokenizers: %s\n", err.msg);
            exit(1);
        }
        is_loaded = 1;
    }
    toks.default_tok = default_tok;
    return &toks;
}

/* The prompt tokens fg-sim reports for @body_json sent to @model. */
static int64_t
prompt_tokens(fg_sim_tok_t default_tok, const char *model,
    const char *body_json)
{
    fg_sim_counting_t counting;
    json_error_t jerr;
    json_t *body;
    char err[256];
    uint64_t tokens;

    if (fg_sim_counting_for_model(&counting, shipped(default_tok), model,
                                  err, sizeof(err)) != 0)
    {
        FG_TEST_FAIL("model \"%s\": %s", model, err);
        return -1;
    }
    body = json_loads(body_json, 0, &jerr);
    if (body == NULL) {
        FG_TEST_FAIL("bad test body: %s", jerr.text);
        return -1;
    }
    tokens = fg_sim_count_prompt(&counting, body);
    json_decref(body);
    return (int64_t) tokens;
}

/* The same for one user message of @content_json, by default o200k. */
static int64_t
user_says(const char *model, const char *content_json)
{
    size_t size = strlen(content_json) + 64;
    char *body = malloc(size);
    int64_t tokens;

    snprintf(body, size, "{\"messages\":[{\"role\":\"user\","
             "\"content\":%s}]}", content_json);
    tokens = prompt_tokens(FG_SIM_TOK_O200K, model, body);
    free(body);
    return tokens;
}

static void
o200k_counts_a_user_message_by_the_cookbook(void)
{
    expect_int_eq(user_says("sim", "\"hello gateway\""),
                  REPLY + MESSAGE + o200k("user") + o200k("hello gateway"));
}

static void
a_name_costs_its_tokens_and_one(void)
{
    expect_int_eq(prompt_tokens(FG_SIM_TOK_O200K, "sim",
        "{\"messages\":[{\"role\":\"user\",\"name\":\"alice\","
        "\"content\":\"hello gateway\"}]}"),
        REPLY + MESSAGE + o200k("user") + o200k("hello gateway")
        + o200k("alice") + 1);
}

static void
text_parts_cost_their_text(void)
{
    expect_int_eq(user_says("sim",
        "[{\"type\":\"text\",\"text\":\"hello gateway\"},"
        "{\"type\":\"text\",\"text\":\"Paris\"}]"),
        REPLY + MESSAGE + o200k("user") + o200k("hello gateway")
        + o200k("Paris"));
}

static void
cl100k_tag_counts_by_cl100k(void)
{
    /* o200k_base has more CJK in its vocabulary: 3 tokens against 6. */
    expect_int_eq(user_says("sim", "\"你好，世界\""),
                  REPLY + MESSAGE + o200k("user") + o200k("你好，世界"));
    expect_int_eq(user_says("sim-tok-cl100k", "\"你好，世界\""),
                  REPLY + MESSAGE + cl100k("user") + cl100k("你好，世界"));
    expect_true(o200k("你好，世界") != cl100k("你好，世界"));
}

static void
default_mode_applies_without_a_tag(void)
{
    const char *body = "{\"messages\":[{\"role\":\"user\","
                       "\"content\":\"你好，世界\"}]}";

    expect_int_eq(prompt_tokens(FG_SIM_TOK_CL100K, "sim", body),
                  REPLY + MESSAGE + cl100k("user") + cl100k("你好，世界"));
    expect_int_eq(prompt_tokens(FG_SIM_TOK_CL100K, "sim-tok-o200k", body),
                  REPLY + MESSAGE + o200k("user") + o200k("你好，世界"));
}

static void
dense_counts_cjk_a_token_a_character(void)
{
    /* "user": one run of 4 letters, ceil(4 / 3) = 2; five code points. */
    expect_int_eq(user_says("sim-tok-dense", "\"你好，世界\""),
                  REPLY + MESSAGE + 2 + 5);
}

static void
dense_is_denser_than_o200k_on_cjk(void)
{
    const char *cjk = "\"東京都の天気は晴れです。明日は雨が降るでしょう。\"";

    expect_true(user_says("sim-tok-dense", cjk) > user_says("sim", cjk));
}

static void
dense_counts_runs_of_letters_space_and_punctuation(void)
{
    fg_sim_counting_t counting;
    char err[256];
    const char *text = "Hello, world!  x1";

    expect_int_eq(fg_sim_counting_for_model(&counting,
                      shipped(FG_SIM_TOK_O200K), "sim-tok-dense", err,
                      sizeof(err)), 0);
    /* Hello(2) ,(1) (1) world(2) !(1) "  "(1) x1(1) */
    expect_int_eq(fg_sim_count_text(&counting, text, strlen(text)), 9);
}

static void
bytes4_tag_keeps_the_first_rule(void)
{
    /* 13 bytes of content: ceil(13 / 4); role and framing are free. */
    expect_int_eq(user_says("sim-tok-bytes4", "\"hello gateway\""), 4);
}

static void
bytes4_counts_an_empty_prompt_as_one(void)
{
    expect_int_eq(user_says("sim-tok-bytes4", "\"\""), 1);
}

static void
a_text_the_bpe_can_only_bound_counts_its_upper_bound(void)
{
    fg_sim_counting_t counting;
    char err[256];
    size_t len = FG_BPE_PIECE_MAX + 1000;
    char *text = malloc(len);

    /* One run of letters is one piece, too long to merge: every byte may
     * be a token. */
    memset(text, 'a', len);
    expect_int_eq(fg_sim_counting_for_model(&counting,
                      shipped(FG_SIM_TOK_O200K), "sim", err, sizeof(err)),
                  0);
    expect_int_eq(fg_sim_count_text(&counting, text, len), len);
    free(text);
}

static void
a_1024_png_at_high_detail_costs_765(void)
{
    /* 1024 x 1024 scales to 768 x 768: 4 tiles, 85 + 4 x 170. */
    expect_int_eq(user_says("sim", "[{\"type\":\"image_url\",\"image_url\":"
                            "{\"url\":\"" PNG_1024_URL "\","
                            "\"detail\":\"high\"}}]"),
                  REPLY + MESSAGE + o200k("user") + 765);
}

static void
an_image_at_auto_detail_costs_as_high(void)
{
    expect_int_eq(user_says("sim", "[{\"type\":\"image_url\",\"image_url\":"
                            "{\"url\":\"" PNG_1024_URL "\","
                            "\"detail\":\"auto\"}}]"),
                  REPLY + MESSAGE + o200k("user") + 765);
}

static void
an_image_at_low_detail_costs_the_base(void)
{
    expect_int_eq(user_says("sim", "[{\"type\":\"image_url\",\"image_url\":"
                            "{\"url\":\"" PNG_1024_URL "\","
                            "\"detail\":\"low\"}}]"),
                  REPLY + MESSAGE + o200k("user") + 85);
}

static void
a_remote_image_costs_the_formulas_most(void)
{
    fg_image_formula_t tiles = { FG_IMAGE_FORMULA_TILES, 85, 170, 0, 0.0 };
    fg_token_bounds_t most;

    fg_image_tokens(&tiles, FG_IMAGE_DETAIL_HIGH, 0, 0, 0, &most);
    expect_true(most.upper > 765);
    expect_int_eq(user_says("sim", "[{\"type\":\"image_url\",\"image_url\":"
                            "{\"url\":\"https://example.com/cat.png\"}}]"),
                  REPLY + MESSAGE + o200k("user") + most.upper);
}

static void
img_mini_tag_uses_gpt_4o_minis_tiles(void)
{
    expect_int_eq(user_says("sim-img-mini", "[{\"type\":\"image_url\","
                            "\"image_url\":{\"url\":\"" PNG_1024_URL "\"}}]"),
                  REPLY + MESSAGE + o200k("user") + 2833 + 4 * 5667);
}

static void
img_patches_tag_uses_patches(void)
{
    fg_sim_counting_t counting;
    char err[256];

    expect_int_eq(fg_sim_counting_for_model(&counting,
                      shipped(FG_SIM_TOK_O200K), "sim-img-patches", err,
                      sizeof(err)), 0);
    expect_int_eq(counting.image.kind, FG_IMAGE_FORMULA_PATCHES);
    expect_int_eq(counting.image.max_patches, 1536);
    expect_true(counting.image.multiplier == 1.62);
}

static void
one_second_of_wav_costs_ten_tokens(void)
{
    /* 8 kHz, mono, 8-bit PCM: 8000 bytes of samples are one second. */
    unsigned char wav[44 + 8000];
    char b64[sizeof(wav) * 4 / 3 + 8], content[sizeof(b64) + 128];

    memset(wav, 0x80, sizeof(wav));
    memcpy(wav, "RIFF\x64\x1f\x00\x00WAVEfmt \x10\x00\x00\x00"
                "\x01\x00\x01\x00\x40\x1f\x00\x00\x40\x1f\x00\x00"
                "\x01\x00\x08\x00" "data\x40\x1f\x00\x00", 44);
    sodium_bin2base64(b64, sizeof(b64), wav, sizeof(wav),
                      sodium_base64_VARIANT_ORIGINAL);
    snprintf(content, sizeof(content), "[{\"type\":\"input_audio\","
             "\"input_audio\":{\"data\":\"%s\",\"format\":\"wav\"}}]", b64);
    expect_int_eq(user_says("sim", content),
                  REPLY + MESSAGE + o200k("user") + 10);
}

static void
tool_definitions_cost_as_the_cookbook_counts_them(void)
{
    const char *body =
        "{\"messages\":[{\"role\":\"user\",\"content\":\"hello gateway\"}],"
        "\"tools\":[{\"type\":\"function\",\"function\":{"
        "\"name\":\"get_weather\","
        "\"description\":\"Get the weather for a city.\","
        "\"parameters\":{\"type\":\"object\",\"properties\":{"
        "\"city\":{\"type\":\"string\",\"description\":\"The city.\"},"
        "\"unit\":{\"type\":\"string\","
        "\"enum\":[\"celsius\",\"fahrenheit\"]}}}}}]}";
    /* Descriptions lose their final '.'; "unit" has no description. */
    int64_t function = 7 + o200k("get_weather:Get the weather for a city");
    int64_t city = 3 + o200k("city:string:The city");
    int64_t unit = 3 - 3 + (3 + o200k("celsius")) + (3 + o200k("fahrenheit"))
                   + o200k("unit:string:");

    expect_int_eq(prompt_tokens(FG_SIM_TOK_O200K, "sim", body),
                  REPLY + MESSAGE + o200k("user") + o200k("hello gateway")
                  + function + 3 + city + unit + 12);
}

static void
a_function_without_properties_costs_its_line(void)
{
    const char *body =
        "{\"messages\":[{\"role\":\"user\",\"content\":\"hello gateway\"}],"
        "\"tools\":[{\"type\":\"function\",\"function\":{"
        "\"name\":\"get_weather\","
        "\"description\":\"Get the weather for a city\","
        "\"parameters\":{\"type\":\"object\",\"properties\":{}}}}]}";

    expect_int_eq(prompt_tokens(FG_SIM_TOK_O200K, "sim", body),
                  REPLY + MESSAGE + o200k("user") + o200k("hello gateway")
                  + 7 + o200k("get_weather:Get the weather for a city")
                  + 12);
}

static void
tool_calls_cost_name_arguments_and_three(void)
{
    const char *body =
        "{\"messages\":["
        "{\"role\":\"user\",\"content\":\"hello gateway\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{"
        "\"id\":\"call_1\",\"type\":\"function\",\"function\":{"
        "\"name\":\"get_weather\","
        "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]}]}";

    expect_int_eq(prompt_tokens(FG_SIM_TOK_O200K, "sim", body),
                  REPLY
                  + MESSAGE + o200k("user") + o200k("hello gateway")
                  + MESSAGE + o200k("assistant") + o200k("get_weather")
                  + o200k("{\"city\":\"Paris\"}") + 3);
}

static void
a_tool_call_id_costs_its_tokens(void)
{
    const char *body =
        "{\"messages\":[{\"role\":\"tool\",\"tool_call_id\":\"call_1\","
        "\"content\":\"Paris\"}]}";

    expect_int_eq(prompt_tokens(FG_SIM_TOK_O200K, "sim", body),
                  REPLY + MESSAGE + o200k("tool") + o200k("call_1")
                  + o200k("Paris"));
}

static void
an_unknown_tokenizer_tag_is_refused(void)
{
    fg_sim_counting_t counting;
    char err[256];

    expect_int_eq(fg_sim_counting_for_model(&counting,
                      shipped(FG_SIM_TOK_O200K), "sim-tok-o300k", err,
                      sizeof(err)), -1);
    expect_true(strstr(err, "unknown tokenizer") != NULL);
}

static void
an_unknown_image_tag_is_refused(void)
{
    fg_sim_counting_t counting;
    char err[256];

    expect_int_eq(fg_sim_counting_for_model(&counting,
                      shipped(FG_SIM_TOK_O200K), "sim-img-huge", err,
                      sizeof(err)), -1);
    expect_true(strstr(err, "unknown image formula") != NULL);
}

static void
mode_names_read_back(void)
{
    fg_sim_tok_t tok;

    expect_int_eq(fg_sim_tok_parse("dense", 5, &tok), 0);
    expect_int_eq(tok, FG_SIM_TOK_DENSE);
    expect_str_eq(fg_sim_tok_name(FG_SIM_TOK_BYTES4), "bytes4");
    expect_int_eq(fg_sim_tok_parse("o200k_base", 10, &tok), -1);
}

static void
a_missing_tokenizer_file_names_it(void)
{
    fg_sim_tokenizers_t none = { NULL, NULL, FG_SIM_TOK_O200K };
    fg_err_t err;

    expect_int_eq(fg_sim_tokenizers_load(&none, "/nonexistent", &err), -1);
    expect_true(strstr(err.msg, "/nonexistent/" FG_SIM_O200K_FILE) != NULL);
    expect_true(none.o200k == NULL && none.cl100k == NULL);
}

FG_TEST_MAIN("sim_count",
    FG_TEST_CASE(o200k_counts_a_user_message_by_the_cookbook),
    FG_TEST_CASE(a_name_costs_its_tokens_and_one),
    FG_TEST_CASE(text_parts_cost_their_text),
    FG_TEST_CASE(cl100k_tag_counts_by_cl100k),
    FG_TEST_CASE(default_mode_applies_without_a_tag),
    FG_TEST_CASE(dense_counts_cjk_a_token_a_character),
    FG_TEST_CASE(dense_is_denser_than_o200k_on_cjk),
    FG_TEST_CASE(dense_counts_runs_of_letters_space_and_punctuation),
    FG_TEST_CASE(bytes4_tag_keeps_the_first_rule),
    FG_TEST_CASE(bytes4_counts_an_empty_prompt_as_one),
    FG_TEST_CASE(a_text_the_bpe_can_only_bound_counts_its_upper_bound),
    FG_TEST_CASE(a_1024_png_at_high_detail_costs_765),
    FG_TEST_CASE(an_image_at_auto_detail_costs_as_high),
    FG_TEST_CASE(an_image_at_low_detail_costs_the_base),
    FG_TEST_CASE(a_remote_image_costs_the_formulas_most),
    FG_TEST_CASE(img_mini_tag_uses_gpt_4o_minis_tiles),
    FG_TEST_CASE(img_patches_tag_uses_patches),
    FG_TEST_CASE(one_second_of_wav_costs_ten_tokens),
    FG_TEST_CASE(tool_definitions_cost_as_the_cookbook_counts_them),
    FG_TEST_CASE(a_function_without_properties_costs_its_line),
    FG_TEST_CASE(tool_calls_cost_name_arguments_and_three),
    FG_TEST_CASE(a_tool_call_id_costs_its_tokens),
    FG_TEST_CASE(an_unknown_tokenizer_tag_is_refused),
    FG_TEST_CASE(an_unknown_image_tag_is_refused),
    FG_TEST_CASE(mode_names_read_back),
    FG_TEST_CASE(a_missing_tokenizer_file_names_it))
