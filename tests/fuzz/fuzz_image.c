/*
 * fuzz_image.c: libFuzzer target for image sizes, audio durations and the
 * image token formulas (common/tokens/media.c).
 *
 * The input is an image file (or anything). Checked: a size read is at
 * least 1x1; a shorter prefix that reads a size reads the same one (a
 * parser only ever reads bytes, so a cut can lose the size, never change
 * it); the input as a data: URL, padded or not, reads exactly what the
 * raw bytes read (the lazy base64 reader agrees with plain memory); the
 * input taken as a URL itself never reads a zero size; token bounds
 * under every formula and detail, for the size read and for the first
 * eight bytes taken as a size, keep 0 <= lower <= upper within the
 * bounds the formula gives an image of no known size; audio durations
 * keep 0 <= lower <= upper <= the maximum.
 */

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/tokens/media.h"

#define URL_HEAD "data:image/png;base64,"
#define MAX_MS   600000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const fg_image_formula_t formulas[] = {
    { FG_IMAGE_FORMULA_TILES, 85, 170, 0, 0 },
    { FG_IMAGE_FORMULA_TILES, 2833, 5667, 0, 0 },
    { FG_IMAGE_FORMULA_PATCHES, 0, 0, 1536, 1.62 },
    { FG_IMAGE_FORMULA_PATCHES, 0, 0, 1536, 2.46 },
};

static const fg_image_detail_t details[] = {
    FG_IMAGE_DETAIL_AUTO, FG_IMAGE_DETAIL_LOW, FG_IMAGE_DETAIL_HIGH,
};

static void
check_tokens(uint32_t w, uint32_t h)
{
    fg_token_bounds_t sized, unsized;
    size_t            f, d;

    for (f = 0; f < sizeof(formulas) / sizeof(formulas[0]); f++) {
        for (d = 0; d < sizeof(details) / sizeof(details[0]); d++) {
            fg_image_tokens(&formulas[f], details[d], 1, w, h, &sized);
            fg_image_tokens(&formulas[f], details[d], 0, 0, 0, &unsized);
            if (sized.lower < 0 || sized.lower > sized.upper
                || unsized.lower < 0 || unsized.lower > unsized.upper
                || sized.lower < unsized.lower
                || sized.upper > unsized.upper)
            {
                abort();
            }
        }
    }
}

static void
check_audio(const char *format, const char *b64, size_t len)
{
    fg_token_bounds_t ms;

    fg_audio_duration_ms(format, b64, len, MAX_MS, &ms);
    if (ms.lower < 0 || ms.lower > ms.upper || ms.upper > MAX_MS) {
        abort();
    }
}

/* The data: URL of @data in base64, into a buffer of its exact length
 * (*@len, no NUL), so ASan sees any read past it. */
static char *
url_of(const uint8_t *data, size_t size, int unpadded, size_t *len)
{
    size_t hl = sizeof(URL_HEAD) - 1;
    size_t bl = sodium_base64_ENCODED_LEN(size,
                                          sodium_base64_VARIANT_ORIGINAL);
    char  *text = malloc(hl + bl), *url;

    if (text == NULL) {
        abort();
    }
    memcpy(text, URL_HEAD, hl);
    sodium_bin2base64(text + hl, bl, data, size,
                      sodium_base64_VARIANT_ORIGINAL);
    *len = strlen(text);
    while (unpadded && *len > hl && text[*len - 1] == '=') {
        (*len)--;
    }
    url = malloc(*len > 0 ? *len : 1);
    if (url == NULL) {
        abort();
    }
    memcpy(url, text, *len);
    free(text);
    return url;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fg_image_type_t type, again;
    uint32_t        w, h, w2, h2;
    size_t          len, hl = sizeof(URL_HEAD) - 1;
    char           *url;
    int             unpadded;

    type = fg_image_size(data, size, &w, &h);
    if (type != FG_IMAGE_UNKNOWN && (w == 0 || h == 0)) {
        abort();
    }
    if (size > 0) {
        again = fg_image_size(data, size - 1, &w2, &h2);
        if (again != FG_IMAGE_UNKNOWN
            && (again != type || w2 != w || h2 != h)) {
            abort();
        }
    }
    for (unpadded = 0; unpadded <= 1; unpadded++) {
        url = url_of(data, size, unpadded, &len);
        again = fg_image_size_data_url(url, len, &w2, &h2);
        if (again != type || (type != FG_IMAGE_UNKNOWN
                              && (w2 != w || h2 != h))) {
            abort();
        }
        check_audio("wav", url + hl, len - hl);
        check_audio("mp3", url + hl, len - hl);
        free(url);
    }

    again = fg_image_size_data_url((const char *) data, size, &w2, &h2);
    if (again != FG_IMAGE_UNKNOWN && (w2 == 0 || h2 == 0)) {
        abort();
    }
    check_audio("wav", (const char *) data, size);
    check_audio("opus", (const char *) data, size);

    if (type != FG_IMAGE_UNKNOWN) {
        check_tokens(w, h);
    }
    if (size >= 8) {
        memcpy(&w2, data, 4);
        memcpy(&h2, data + 4, 4);
        check_tokens(w2, h2);
    }
    return 0;
}
