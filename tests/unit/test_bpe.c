/*
 * test_bpe.c: the BPE tokenizer (common/tokens/bpe.h).
 *
 * The shipped vocabularies (etc/tokenizers) against js-tiktoken: every
 * text of tests/fixtures/tokens/corpus.json, with the ids js-tiktoken
 * gave it in the file $FG_TOKENS_REFERENCE (tests/run.sh makes it with
 * tests/lib/tiktoken-reference.mjs; without it these tests fail). Then
 * the proven bounds on seeded random UTF-8, invalid UTF-8, pieces over
 * FG_BPE_PIECE_MAX and inputs of a mebibyte; the merge order, empty
 * matches, gaps, a regex that gives up, and the load's refusals on tiny
 * vocabularies written to one mkdtemp(3) folder under /tmp.
 */

#include "common/tokens/bpe.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "tests/unit/fg_test.h"

#define MIB            (1024 * 1024)
#define TEST_FILES_MAX 64

static char        test_dir[64];
static char       *test_files[TEST_FILES_MAX];
static size_t      test_file_count;
static uint32_t    ids[MIB];

/* ---- the shipped tokenizers and the reference --------------------------- */

/* etc/tokenizers/@name.json, loaded once; NULL (and a failure) if not. */
static const fg_bpe_t *
shipped(const char *name)
{
    static fg_bpe_t *loaded[2];
    static char      path[512];
    int              k = strcmp(name, "o200k_base") == 0 ? 0 : 1;
    fg_err_t         err;

    if (loaded[k] == NULL) {
        snprintf(path, sizeof(path), "%s/tokenizers/%s.json", FG_SYSCONFDIR,
                 name);
        loaded[k] = fg_bpe_load(path, &err);
        if (loaded[k] == NULL) {
            FG_TEST_FAIL("%s: %s", path, err.msg);
        }
    }
    return loaded[k];
}

/* The reference file, loaded once; NULL (and a failure) if missing. */
static json_t *
reference(void)
{
    static json_t *ref;
    const char    *path = getenv("FG_TOKENS_REFERENCE");
    json_error_t   jerr;

    if (ref == NULL && path == NULL) {
        FG_TEST_FAIL("FG_TOKENS_REFERENCE is not set: run tests/run.sh, or "
                     "node tests/lib/tiktoken-reference.mjs "
                     "tests/fixtures/tokens/corpus.json OUT and set it to "
                     "OUT");
        return NULL;
    }
    if (ref == NULL && (ref = json_load_file(path, JSON_ALLOW_NUL, &jerr))
                           == NULL) {
        FG_TEST_FAIL("%s: %s", path, jerr.text);
    }
    return ref;
}

/* ceil(@len / max token bytes): the proven lower bound. */
static int64_t
lowest(const fg_bpe_t *bpe, size_t len)
{
    size_t max = fg_bpe_max_token_bytes(bpe);

    return (int64_t) ((len + max - 1) / max);
}

/* Whether @b are the proven bounds of @len bytes, and not exact. */
static int
is_proven_bounds(const fg_bpe_t *bpe, const fg_token_bounds_t *b, size_t len)
{
    return b->lower == lowest(bpe, len) && b->upper == (int64_t) len
           && b->lower < b->upper;
}

/*
 * Every reference text of @name: its ids equal js-tiktoken's, and its
 * count is exact and as many; or, when it has a piece over the maximum,
 * encoding refuses and the count is bounds around js-tiktoken's count.
 */
static void
expect_reference(const char *name)
{
    const fg_bpe_t   *bpe = shipped(name);
    json_t           *ref = reference(), *texts, *all_ids, *long_piece;
    fg_token_bounds_t b;
    size_t            i, k, failures = 0, exact = 0, bounded = 0;

    if (bpe == NULL || ref == NULL) {
        return;
    }
    texts = json_object_get(ref, "texts");
    all_ids = json_object_get(json_object_get(ref, name), "ids");
    long_piece = json_object_get(json_object_get(ref, name), "long_piece");
    if (json_array_size(texts) < 400
        || json_array_size(all_ids) != json_array_size(texts)
        || json_array_size(long_piece) != json_array_size(texts)) {
        FG_TEST_FAIL("the reference has no %s ids for 400 texts or more",
                     name);
        return;
    }
    for (i = 0; i < json_array_size(texts) && failures < 5; i++) {
        json_t     *want = json_array_get(all_ids, i);
        const char *text = json_string_value(json_array_get(texts, i));
        size_t      len = json_string_length(json_array_get(texts, i));
        int64_t     n = fg_bpe_encode(bpe, text, len, ids, MIB);

        fg_bpe_count(bpe, text, len, &b);
        if (json_is_true(json_array_get(long_piece, i))) {
            bounded++;
            if (n != -1 || !is_proven_bounds(bpe, &b, len)) {
                FG_TEST_FAIL("%s, text %zu (%zu bytes, a piece over the "
                             "max): encode %lld, count [%lld, %lld]", name,
                             i, len, (long long) n, (long long) b.lower,
                             (long long) b.upper);
                failures++;
            }
            continue;
        }
        exact++;
        for (k = 0; n == (int64_t) json_array_size(want) && k < (size_t) n;
             k++) {
            if (ids[k] != json_integer_value(json_array_get(want, k))) {
                break;
            }
        }
        if (n != (int64_t) json_array_size(want) || k != (size_t) n
            || b.lower != n || b.upper != n) {
            FG_TEST_FAIL("%s, text %zu (%zu bytes, \"%.24s\"): %lld ids, "
                         "js-tiktoken %zu, first difference at %zu; count "
                         "[%lld, %lld]", name, i, len, text, (long long) n,
                         json_array_size(want), k, (long long) b.lower,
                         (long long) b.upper);
            failures++;
        }
    }
    /* The corpus must reach both paths. */
    expect_true(exact >= 400);
    expect_true(bounded >= 5);
}

static void
o200k_base_encodes_every_reference_text_as_js_tiktoken_does(void)
{
    expect_reference("o200k_base");
}

static void
cl100k_base_encodes_every_reference_text_as_js_tiktoken_does(void)
{
    expect_reference("cl100k_base");
}

static void
the_shipped_tokenizers_are_named_and_their_longest_token_known(void)
{
    const fg_bpe_t *o200k = shipped("o200k_base");
    const fg_bpe_t *cl100k = shipped("cl100k_base");

    if (o200k == NULL || cl100k == NULL) {
        return;
    }
    expect_str_eq(fg_bpe_name(o200k), "o200k_base");
    expect_str_eq(fg_bpe_name(cl100k), "cl100k_base");
    expect_int_eq(fg_bpe_max_token_bytes(o200k), 128);
    expect_int_eq(fg_bpe_max_token_bytes(cl100k), 128);
}

/* ---- the proven bounds ---------------------------------------------------- */

static uint64_t
next_random(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

/* Writes code point @c as UTF-8 at @out; returns its length. */
static size_t
put_utf8(uint32_t c, char *out)
{
    if (c < 0x80) {
        out[0] = (char) c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char) (0xc0 | c >> 6);
        out[1] = (char) (0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char) (0xe0 | c >> 12);
        out[1] = (char) (0x80 | ((c >> 6) & 0x3f));
        out[2] = (char) (0x80 | (c & 0x3f));
        return 3;
    }
    out[0] = (char) (0xf0 | c >> 18);
    out[1] = (char) (0x80 | ((c >> 12) & 0x3f));
    out[2] = (char) (0x80 | ((c >> 6) & 0x3f));
    out[3] = (char) (0x80 | (c & 0x3f));
    return 4;
}

/* Up to @max bytes of seeded random UTF-8 from every plane that has
 * text (surrogates excluded); returns the length. */
static size_t
random_utf8(uint64_t *state, char *out, size_t max)
{
    static const uint32_t ranges[][2] = {
        { 0x0, 0x7f }, { 0x20, 0x7e }, { 0x80, 0x7ff }, { 0x800, 0xd7ff },
        { 0xe000, 0xffff }, { 0x10000, 0x10ffff }, { 0x4e00, 0x9fff },
        { 0x1f300, 0x1f64f }, { 0x9, 0xd },
    };
    size_t len = 0, target = next_random(state) % max;

    while (len + 4 <= target) {
        const uint32_t *r = ranges[next_random(state) % 9];

        len += put_utf8(r[0] + (uint32_t) (next_random(state)
                                           % (r[1] - r[0] + 1)),
                        out + len);
    }
    return len;
}

static void
random_utf8_is_counted_exactly_within_the_proven_bounds(void)
{
    static char       text[FG_BPE_PIECE_MAX];
    const fg_bpe_t   *bpe = shipped("o200k_base");
    uint64_t          state = 0x5eed;
    fg_token_bounds_t b;
    size_t            len;
    int               i;

    if (bpe == NULL) {
        return;
    }
    for (i = 0; i < 300; i++) {
        len = random_utf8(&state, text, sizeof(text));
        fg_bpe_count(bpe, text, len, &b);
        /* No piece can be over the max: the whole text is not. */
        expect_int_eq(b.lower, b.upper);
        expect_true(b.upper <= (int64_t) len);
        expect_true(b.lower >= lowest(bpe, len));
        expect_int_eq(fg_bpe_encode(bpe, text, len, ids, MIB), b.upper);
    }
}

static void
a_piece_over_the_max_is_counted_by_the_proven_bounds(void)
{
    static char       text[FG_BPE_PIECE_MAX + 1];
    const fg_bpe_t   *bpe = shipped("o200k_base");
    fg_token_bounds_t b;

    if (bpe == NULL) {
        return;
    }
    memset(text, 'q', sizeof(text));
    fg_bpe_count(bpe, text, FG_BPE_PIECE_MAX, &b);
    expect_int_eq(b.lower, b.upper);
    fg_bpe_count(bpe, text, sizeof(text), &b);
    expect_true(is_proven_bounds(bpe, &b, sizeof(text)));
    expect_int_eq(fg_bpe_encode(bpe, text, sizeof(text), ids, MIB), -1);
}

static void
pieces_beside_a_long_one_are_still_counted_exactly(void)
{
    static char       text[FG_BPE_PIECE_MAX + 2 + 11];
    const fg_bpe_t   *bpe = shipped("o200k_base");
    fg_token_bounds_t b, tail;

    if (bpe == NULL) {
        return;
    }
    memset(text, 'q', FG_BPE_PIECE_MAX + 1);
    memcpy(text + FG_BPE_PIECE_MAX + 1, " hello world", 12);
    fg_bpe_count(bpe, " hello world", 12, &tail);
    fg_bpe_count(bpe, text, sizeof(text), &b);
    expect_int_eq(b.lower, lowest(bpe, FG_BPE_PIECE_MAX + 1) + tail.lower);
    expect_int_eq(b.upper, FG_BPE_PIECE_MAX + 1 + tail.upper);
}

static void
invalid_utf8_is_counted_by_the_bounds_of_the_whole_text(void)
{
    static const char *const texts[] = {
        "hello \xff world", "cut short \xe2\x82", "overlong \xc0\x80 here",
        "a surrogate \xed\xa0\x80", "\x80 a stray continuation",
        "above U+10FFFF \xf4\x90\x80\x80",
    };
    const fg_bpe_t   *bpe = shipped("o200k_base");
    fg_token_bounds_t b;
    size_t            i, len;

    if (bpe == NULL) {
        return;
    }
    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        len = strlen(texts[i]);
        fg_bpe_count(bpe, texts[i], len, &b);
        expect_true(is_proven_bounds(bpe, &b, len));
        expect_int_eq(fg_bpe_encode(bpe, texts[i], len, ids, MIB), -1);
    }
}

static void
the_empty_text_is_no_token(void)
{
    const fg_bpe_t   *bpe = shipped("o200k_base");
    fg_token_bounds_t b = { 7, 7 };

    if (bpe == NULL) {
        return;
    }
    fg_bpe_count(bpe, NULL, 0, &b);
    expect_int_eq(b.lower, 0);
    expect_int_eq(b.upper, 0);
    expect_int_eq(fg_bpe_encode(bpe, "", 0, ids, MIB), 0);
}

static void
nul_bytes_are_counted_as_text(void)
{
    const fg_bpe_t   *bpe = shipped("o200k_base");
    fg_token_bounds_t with, without;

    if (bpe == NULL) {
        return;
    }
    fg_bpe_count(bpe, "ab\0cd", 5, &with);
    fg_bpe_count(bpe, "ab", 2, &without);
    expect_int_eq(with.lower, with.upper);
    expect_true(with.lower > without.lower);
}

static void
encode_writes_at_most_cap_ids_and_returns_them_all(void)
{
    const fg_bpe_t *bpe = shipped("o200k_base");
    const char     *text = "one two three four five";
    uint32_t        few[3] = { 0, 0, 0 };
    int64_t         n;

    if (bpe == NULL) {
        return;
    }
    n = fg_bpe_encode(bpe, text, strlen(text), ids, MIB);
    expect_int_eq(fg_bpe_encode(bpe, text, strlen(text), few, 2), n);
    expect_true(n > 2);
    expect_int_eq(few[0], ids[0]);
    expect_int_eq(few[1], ids[1]);
    expect_int_eq(few[2], 0);
    expect_int_eq(fg_bpe_encode(bpe, text, strlen(text), NULL, 0), n);
}

/* A mebibyte of each: one run of a letter, spaces, digits, "A'" pairs. */
static void
a_mebibyte_of_one_character_is_counted_without_failing(void)
{
    static char       text[MIB];
    const fg_bpe_t   *bpe = shipped("o200k_base");
    fg_token_bounds_t b;
    size_t            i;

    if (bpe == NULL) {
        return;
    }
    memset(text, 'a', MIB);
    fg_bpe_count(bpe, text, MIB, &b);
    expect_true(is_proven_bounds(bpe, &b, MIB));
    memset(text, ' ', MIB);
    fg_bpe_count(bpe, text, MIB, &b);
    expect_true(is_proven_bounds(bpe, &b, MIB));
    memset(text, '\n', MIB);
    fg_bpe_count(bpe, text, MIB, &b);
    expect_true(is_proven_bounds(bpe, &b, MIB));
    /* Digits go three to a piece, and "111" and "1" are tokens. */
    memset(text, '1', MIB);
    fg_bpe_count(bpe, text, MIB, &b);
    expect_int_eq(fg_bpe_encode(bpe, "111", 3, ids, MIB), 1);
    expect_int_eq(b.lower, (MIB + 2) / 3);
    expect_int_eq(b.upper, (MIB + 2) / 3);
    for (i = 0; i < MIB; i++) {
        text[i] = "A'"[i % 2];
    }
    fg_bpe_count(bpe, text, MIB, &b);
    expect_int_eq(b.lower, b.upper);
    expect_true(b.upper <= MIB && b.lower >= lowest(bpe, MIB));
}

/* ---- tiny vocabularies -------------------------------------------------- */

static const char *
test_path(const char *name)
{
    static char path[256];
    size_t      i;

    snprintf(path, sizeof(path), "%s/%s", test_dir, name);
    for (i = 0; i < test_file_count; i++) {
        if (strcmp(test_files[i], path) == 0) {
            return path;
        }
    }
    if (test_file_count < TEST_FILES_MAX) {
        test_files[test_file_count++] = strdup(path);
    }
    return path;
}

/* Standard base64 of @n bytes of @p into @out. */
static void
put_base64(const char *p, size_t n, char *out)
{
    static const char a[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t   i;
    uint32_t v;

    for (i = 0; i < n; i += 3) {
        v = (uint32_t) (unsigned char) p[i] << 16;
        v |= i + 1 < n ? (uint32_t) (unsigned char) p[i + 1] << 8 : 0;
        v |= i + 2 < n ? (uint32_t) (unsigned char) p[i + 2] : 0;
        *out++ = a[v >> 18];
        *out++ = a[(v >> 12) & 63];
        *out++ = i + 1 < n ? a[(v >> 6) & 63] : '=';
        *out++ = i + 2 < n ? a[v & 63] : '=';
    }
    *out = '\0';
}

/*
 * Writes @name.tiktoken.gz (every byte at the rank of its value, but
 * @skip_byte when >= 0; then @tokens at ranks 256 on; then @raw lines
 * as they are) and @name.json with @pattern. Returns the JSON's path.
 */
static const char *
tiny_vocabulary(const char *name, const char *pattern, int skip_byte,
                const char *const *tokens, const char *raw)
{
    static char json_path[256];
    char        file[128], b64[64];
    json_t     *desc;
    gzFile      gz;
    int         i, rank = 256;

    snprintf(file, sizeof(file), "%s.tiktoken.gz", name);
    gz = gzopen(test_path(file), "wb");
    for (i = 0; i < 256; i++) {
        char byte = (char) i;

        if (i != skip_byte) {
            put_base64(&byte, 1, b64);
            gzprintf(gz, "%s %d\n", b64, i);
        }
    }
    for (i = 0; tokens != NULL && tokens[i] != NULL; i++) {
        put_base64(tokens[i], strlen(tokens[i]), b64);
        gzprintf(gz, "%s %d\n", b64, rank++);
    }
    gzputs(gz, raw != NULL ? raw : "");
    gzclose(gz);
    snprintf(file, sizeof(file), "%s.json", name);
    snprintf(json_path, sizeof(json_path), "%s", test_path(file));
    desc = json_pack("{s:s, s:s, s:s+, s:s, s:s}", "name", name, "pattern",
                     pattern, "ranks", name, ".tiktoken.gz", "source",
                     "test_bpe.c", "licence", "MIT");
    json_dump_file(desc, json_path, 0);
    json_decref(desc);
    return json_path;
}

/* The ids of @text under the vocabulary at @path; -2 if it did not load. */
static int64_t
tiny_encode(const char *path, const char *text, fg_token_bounds_t *b)
{
    fg_bpe_t *bpe;
    fg_err_t  err;
    int64_t   n;

    if ((bpe = fg_bpe_load(path, &err)) == NULL) {
        FG_TEST_FAIL("%s: %s", path, err.msg);
        return -2;
    }
    n = fg_bpe_encode(bpe, text, strlen(text), ids, MIB);
    fg_bpe_count(bpe, text, strlen(text), b);
    fg_bpe_free(bpe);
    return n;
}

static void
the_pair_of_lowest_rank_merges_first(void)
{
    static const char *const tokens[] = { "bc", "ab", NULL };
    fg_token_bounds_t        b;

    /* "bc" (256) before "ab" (257): a + bc, not ab + c. */
    expect_int_eq(tiny_encode(tiny_vocabulary("lowest", "[a-z]+", -1, tokens,
                                              NULL), "abc", &b), 2);
    expect_int_eq(ids[0], 'a');
    expect_int_eq(ids[1], 256);
}

static void
of_equal_pairs_the_leftmost_merges_first(void)
{
    static const char *const tokens[] = { "aa", NULL };
    fg_token_bounds_t        b;

    expect_int_eq(tiny_encode(tiny_vocabulary("leftmost", "[a-z]+", -1,
                                              tokens, NULL), "aaa", &b), 2);
    expect_int_eq(ids[0], 256);
    expect_int_eq(ids[1], 'a');
}

static void
merged_parts_merge_again_into_longer_tokens(void)
{
    static const char *const tokens[] = { "ab", "cd", "abcd", NULL };
    fg_token_bounds_t        b;

    expect_int_eq(tiny_encode(tiny_vocabulary("again", "[a-z]+", -1, tokens,
                                              NULL), "abcde", &b), 2);
    expect_int_eq(ids[0], 258);
    expect_int_eq(ids[1], 'e');
    expect_int_eq(b.lower, 2);
    expect_int_eq(b.upper, 2);
}

static void
an_empty_match_moves_on_and_its_character_counts_as_0_to_its_bytes(void)
{
    fg_token_bounds_t b;

    /* "a*" matches nothing before each "b", which tiktoken skips. */
    expect_int_eq(tiny_encode(tiny_vocabulary("empty", "a*", -1, NULL, NULL),
                              "bab\xc3\xa9", &b), -1);
    expect_int_eq(b.lower, 1);
    expect_int_eq(b.upper, 5);
}

static void
bytes_no_match_covers_count_as_0_to_their_length(void)
{
    fg_token_bounds_t b;

    expect_int_eq(tiny_encode(tiny_vocabulary("gaps", "x", -1, NULL, NULL),
                              "axbbx", &b), -1);
    expect_int_eq(b.lower, 2);
    expect_int_eq(b.upper, 5);
}

static void
a_regex_that_gives_up_leaves_the_rest_to_the_bounds(void)
{
    static const char *const tokens[] = { "aa", NULL };
    char                     text[64];
    fg_token_bounds_t        b;

    /* Exponential backtracking on the a's hits the match limit. */
    snprintf(text, sizeof(text), "xy%s", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    expect_int_eq(tiny_encode(tiny_vocabulary("gives_up", "(a+)+b|.", -1,
                                              tokens, NULL), text, &b), -1);
    expect_int_eq(b.lower, 2 + 20);
    expect_int_eq(b.upper, 2 + 40);
}

/* ---- refusals at load ---------------------------------------------------- */

/* Loads @path, expecting a refusal whose message contains @text. */
static void
expect_refusal(const char *path, const char *text)
{
    fg_bpe_t *bpe;
    fg_err_t  err;

    memset(&err, 0, sizeof(err));
    bpe = fg_bpe_load(path, &err);
    expect_true(bpe == NULL);
    fg_bpe_free(bpe);
    if (strstr(err.msg, text) == NULL) {
        FG_TEST_FAIL("message \"%s\" lacks \"%s\"", err.msg, text);
    }
}

static void
a_missing_description_is_refused_by_its_path(void)
{
    expect_refusal(test_path("nowhere.json"), "nowhere.json");
}

static void
a_description_with_an_unknown_field_is_refused(void)
{
    const char *path = test_path("unknown.json");
    FILE       *f = fopen(path, "w");

    fputs("{\"name\": \"x\", \"pattern\": \".\", \"ranks\": \"x.gz\", "
          "\"source\": \"s\", \"licence\": \"MIT\", \"extra\": 1}", f);
    fclose(f);
    expect_refusal(path, "expected {\"name\"");
}

static void
a_missing_ranks_file_is_refused_by_its_path(void)
{
    const char *path = test_path("noranks.json");
    FILE       *f = fopen(path, "w");

    fputs("{\"name\": \"x\", \"pattern\": \".\", \"ranks\": \"absent.gz\", "
          "\"source\": \"s\", \"licence\": \"MIT\"}", f);
    fclose(f);
    expect_refusal(path, "absent.gz");
}

static void
a_vocabulary_without_every_byte_is_refused(void)
{
    expect_refusal(tiny_vocabulary("nobyte", ".", 0xff, NULL, NULL),
                   "byte 0xff is no token");
}

static void
a_token_given_twice_is_refused(void)
{
    expect_refusal(tiny_vocabulary("twice", ".", -1, NULL, "YQ== 300\n"),
                   "twice");
}

static void
ranks_that_do_not_rise_are_refused(void)
{
    expect_refusal(tiny_vocabulary("order", ".", -1, NULL,
                                   "YWI= 300\nYWM= 299\n"),
                   "line 258");
}

static void
a_token_in_non_canonical_base64_is_refused(void)
{
    /* "YWJ=" spells "ab" with a bit set that the padding drops. */
    expect_refusal(tiny_vocabulary("canonical", ".", -1, NULL, "YWJ= 300\n"),
                   "canonical base64");
}

static void
a_truncated_ranks_file_is_refused_wherever_it_is_cut(void)
{
    char        gz[256];
    const char *path;
    struct stat st;
    off_t       cut;

    snprintf(gz, sizeof(gz), "%s/truncated.tiktoken.gz", test_dir);
    for (cut = 1;; cut += 37) {
        path = tiny_vocabulary("truncated", ".", -1, NULL, NULL);
        if (stat(gz, &st) != 0 || cut >= st.st_size) {
            break;
        }
        expect_int_eq(truncate(gz, cut), 0);
        expect_refusal(path, "truncated.tiktoken.gz");
    }
    expect_true(cut > 200);
}

static void
an_invalid_pattern_is_refused_with_its_offset(void)
{
    expect_refusal(tiny_vocabulary("pattern", "ab(c", -1, NULL, NULL),
                   "pattern, at offset 4");
}

static void
a_pattern_that_could_split_a_character_is_refused(void)
{
    expect_refusal(tiny_vocabulary("split", "\\C", -1, NULL, NULL),
                   "pattern, at offset");
}

static void
cleanup(void)
{
    size_t i;

    for (i = 0; i < test_file_count; i++) {
        unlink(test_files[i]);
        free(test_files[i]);
    }
    rmdir(test_dir);
}

int
main(void)
{
    static const fg_test_case_t cases[] = {
        FG_TEST_CASE(o200k_base_encodes_every_reference_text_as_js_tiktoken_does),
        FG_TEST_CASE(cl100k_base_encodes_every_reference_text_as_js_tiktoken_does),
        FG_TEST_CASE(the_shipped_tokenizers_are_named_and_their_longest_token_known),
        FG_TEST_CASE(random_utf8_is_counted_exactly_within_the_proven_bounds),
        FG_TEST_CASE(a_piece_over_the_max_is_counted_by_the_proven_bounds),
        FG_TEST_CASE(pieces_beside_a_long_one_are_still_counted_exactly),
        FG_TEST_CASE(invalid_utf8_is_counted_by_the_bounds_of_the_whole_text),
        FG_TEST_CASE(the_empty_text_is_no_token),
        FG_TEST_CASE(nul_bytes_are_counted_as_text),
        FG_TEST_CASE(encode_writes_at_most_cap_ids_and_returns_them_all),
        FG_TEST_CASE(a_mebibyte_of_one_character_is_counted_without_failing),
        FG_TEST_CASE(the_pair_of_lowest_rank_merges_first),
        FG_TEST_CASE(of_equal_pairs_the_leftmost_merges_first),
        FG_TEST_CASE(merged_parts_merge_again_into_longer_tokens),
        FG_TEST_CASE(an_empty_match_moves_on_and_its_character_counts_as_0_to_its_bytes),
        FG_TEST_CASE(bytes_no_match_covers_count_as_0_to_their_length),
        FG_TEST_CASE(a_regex_that_gives_up_leaves_the_rest_to_the_bounds),
        FG_TEST_CASE(a_missing_description_is_refused_by_its_path),
        FG_TEST_CASE(a_description_with_an_unknown_field_is_refused),
        FG_TEST_CASE(a_missing_ranks_file_is_refused_by_its_path),
        FG_TEST_CASE(a_vocabulary_without_every_byte_is_refused),
        FG_TEST_CASE(a_token_given_twice_is_refused),
        FG_TEST_CASE(ranks_that_do_not_rise_are_refused),
        FG_TEST_CASE(a_token_in_non_canonical_base64_is_refused),
        FG_TEST_CASE(a_truncated_ranks_file_is_refused_wherever_it_is_cut),
        FG_TEST_CASE(an_invalid_pattern_is_refused_with_its_offset),
        FG_TEST_CASE(a_pattern_that_could_split_a_character_is_refused),
    };
    int rc;

    snprintf(test_dir, sizeof(test_dir), "/tmp/fg-bpe-XXXXXX");
    if (mkdtemp(test_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    rc = fg_test_run("bpe", cases, sizeof(cases) / sizeof(cases[0]));
    cleanup();
    return rc;
}
