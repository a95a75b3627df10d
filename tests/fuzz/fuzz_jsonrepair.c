/*
 * fuzz_jsonrepair.c: libFuzzer target for the JSON repair of model output
 * (common/wire/jsonrepair.c).
 *
 * Input layout: byte 0 picks the depth limit (1 to 64, or 100,000 so deep
 * inputs get past it), byte 1 seeds the cuts; the rest is the model's
 * text. Checked for the text and for eight pseudo-random cuts of it (a
 * cut is what max_tokens does to a reply):
 *  - the result is VALID exactly when fg_jdoc_parse() accepts the text,
 *    and then nothing is allocated and no bit is set;
 *  - REPAIRED output is NUL-terminated, within 2 × len + depth + 16
 *    bytes, accepted by fg_jdoc_parse() with the same limit, and has at
 *    least one bit; repairing it again says VALID;
 *  - FAILED allocates nothing and sets no bit.
 * Termination in linear time is libFuzzer's -timeout (tests in
 * tests/unit/test_jsonrepair.c run 1 MiB pathological inputs).
 *
 * Not checked here: that a repair kept the values (the unit corpus pins
 * outputs byte for byte).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire/jdoc.h"
#include "common/wire/jsonrepair.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_check(int ok)
{
    if (!ok) {
        abort();
    }
}

static int
fuzz_parses(const char *s, size_t len, size_t depth)
{
    fg_jdoc_t doc;

    if (fg_jdoc_parse(&doc, s, len, depth, NULL) != FG_OK) {
        return 0;
    }
    fg_jdoc_free(&doc);
    return 1;
}

static void
fuzz_repair(const char *in, size_t len, size_t depth)
{
    fg_jsonrepair_result_t rc;
    char                  *out = (char *) in, *again = NULL;
    size_t                 out_len = 1, again_len;
    unsigned               what = 0xdead, again_what;
    int                    valid = fuzz_parses(in, len, depth);

    rc = fg_json_repair(in, len, depth, &out, &out_len, &what);
    switch (rc) {
    case FG_JSONREPAIR_VALID:
    case FG_JSONREPAIR_FAILED:
        fuzz_check((rc == FG_JSONREPAIR_VALID) == valid);
        fuzz_check(out == NULL && out_len == 0 && what == 0);
        break;
    case FG_JSONREPAIR_REPAIRED:
        fuzz_check(!valid);
        fuzz_check(out != NULL && what != 0);
        fuzz_check(out_len <= 2 * len + depth + 16);
        fuzz_check(out[out_len] == '\0');
        fuzz_check(fuzz_parses(out, out_len, depth));
        fuzz_check(fg_json_repair(out, out_len, depth, &again, &again_len,
                                  &again_what) == FG_JSONREPAIR_VALID);
        fuzz_check(again == NULL);
        free(out);
        break;
    default:
        fuzz_check(0);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t      depth, cut;
    uint32_t    seed;
    const char *text;
    char       *copy;
    int         i;

    if (size < 2) {
        return 0;
    }
    depth = data[0] == 0xff ? 100000 : (size_t) (1 + data[0] % 64);
    seed = data[1];
    text = (const char *) data + 2;
    size -= 2;

    fuzz_repair(text, size, depth);
    /* Each cut in a buffer of its own size, so ASan sees an over-read. */
    for (i = 0; i < 8 && size > 0; i++) {
        seed = seed * 1103515245u + 12345u;
        cut = (seed >> 8) % size;
        copy = malloc(cut > 0 ? cut : 1);
        fuzz_check(copy != NULL);
        memcpy(copy, text, cut);
        fuzz_repair(copy, cut, depth);
        free(copy);
    }
    return 0;
}
