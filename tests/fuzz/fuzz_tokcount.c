/*
 * fuzz_tokcount.c: libFuzzer target for the prompt estimator
 * (common/tokens/tokcount.c) and the BPE under it (bpe.c).
 *
 * The input is a chat request body (or anything). Checked, for any bytes
 * as text: a count keeps ceil(n / 128) <= lower <= upper <= n, and is
 * exact for valid UTF-8 with no pre-token longer than FG_BPE_PIECE_MAX.
 * For any input that parses as JSON: under o200k_base and under no
 * tokenizer, with a roomy budget and a tiny one, 0 <= lower <= upper;
 * a budget only ever widens the bounds, never moves them past the exact
 * ones; and the parts add up to the whole.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/tokens/tokcount.h"
#include "common/wire/jdoc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static fg_bpe_t *o200k;

static const fg_bpe_t *
tokenizer(void)
{
    fg_err_t err;

    if (o200k == NULL) {
        o200k = fg_bpe_load(FG_SYSCONFDIR "/tokenizers/o200k_base.json",
                            &err);
        if (o200k == NULL) {
            fprintf(stderr, "fuzz_tokcount: %s\n", err.msg);
            abort();
        }
    }
    return o200k;
}

static void
check_text(const uint8_t *data, size_t size)
{
    fg_token_bounds_t b;
    int64_t           n = (int64_t) size;

    fg_bpe_count(tokenizer(), (const char *) data, size, &b);
    if (b.lower < (n + 127) / 128 || b.lower > b.upper || b.upper > n) {
        abort();
    }
}

static void
check_sum(const fg_tokcount_t *c)
{
    fg_token_bounds_t sum = { 0, 0 };

    fg_token_bounds_add(&sum, &c->text);
    fg_token_bounds_add(&sum, &c->template);
    fg_token_bounds_add(&sum, &c->tools);
    fg_token_bounds_add(&sum, &c->images);
    fg_token_bounds_add(&sum, &c->audio);
    if (sum.lower != c->prompt.lower || sum.upper != c->prompt.upper
        || c->prompt.lower < 0 || c->prompt.lower > c->prompt.upper) {
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fg_token_profile_t known, unknown;
    fg_tokcount_t      roomy, tight, none;
    fg_jdoc_t          doc;

    check_text(data, size);
    if (fg_jdoc_parse(&doc, (const char *) data, size, 64, NULL) != FG_OK) {
        return 0;
    }
    fg_token_profile_default(&known);
    known.bpe = tokenizer();
    fg_token_profile_default(&unknown);
    fg_tokcount_chat(&known, &doc, 1 << 20, &roomy);
    fg_tokcount_chat(&known, &doc, 8, &tight);
    fg_tokcount_chat(&unknown, &doc, 1 << 20, &none);
    check_sum(&roomy);
    check_sum(&tight);
    check_sum(&none);
    if (tight.prompt.lower > roomy.prompt.lower
        || tight.prompt.upper < roomy.prompt.upper) {
        abort();
    }
    fg_jdoc_free(&doc);
    return 0;
}
