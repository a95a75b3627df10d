/*
 * test_media.c: image sizes from PNG, JPEG, GIF and WebP headers, raw and
 * in data: URLs (common/tokens/media); the image token formulas against
 * OpenAI's published examples and their proven maxima; audio durations
 * from WAV headers and the MP3 bound.
 *
 * The images are real files, cut down where only the header matters:
 * the PNGs from zlib by hand, the JPEGs from cjpeg -grayscale -optimize
 * (the progressive one with -progressive), the WebPs from cwebp (lossy,
 * -lossless, and with alpha for VP8X), the GIFs a 1x1 frame on a 300x2
 * logical screen.
 */

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/tokens/media.h"

#include "tests/unit/fg_test.h"

static const uint8_t png_1x1[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d,
    0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
    0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53, 0xde, 0x00, 0x00, 0x00,
    0x0c, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x68, 0x70, 0x50, 0x00,
    0x00, 0x02, 0x24, 0x00, 0xe1, 0x95, 0xa4, 0xb1, 0x8b, 0x00, 0x00, 0x00,
    0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
};

static const uint8_t png_640x480_head[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d,
    0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x02, 0x80, 0x00, 0x00, 0x01, 0xe0,
    0x08, 0x02, 0x00, 0x00, 0x00, 0xba, 0xb3, 0x4b, 0xb3,
};

static const uint8_t jpeg_3x2[] = {
    0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01,
    0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xff, 0xdb, 0x00, 0x43,
    0x00, 0x10, 0x0b, 0x0c, 0x0e, 0x0c, 0x0a, 0x10, 0x0e, 0x0d, 0x0e, 0x12,
    0x11, 0x10, 0x13, 0x18, 0x28, 0x1a, 0x18, 0x16, 0x16, 0x18, 0x31, 0x23,
    0x25, 0x1d, 0x28, 0x3a, 0x33, 0x3d, 0x3c, 0x39, 0x33, 0x38, 0x37, 0x40,
    0x48, 0x5c, 0x4e, 0x40, 0x44, 0x57, 0x45, 0x37, 0x38, 0x50, 0x6d, 0x51,
    0x57, 0x5f, 0x62, 0x67, 0x68, 0x67, 0x3e, 0x4d, 0x71, 0x79, 0x70, 0x64,
    0x78, 0x5c, 0x65, 0x67, 0x63, 0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00, 0x02,
    0x00, 0x03, 0x01, 0x01, 0x11, 0x00, 0xff, 0xc4, 0x00, 0x14, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0xff, 0xc4, 0x00, 0x14, 0x10, 0x01, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f, 0x00,
    0x3f, 0xff, 0xd9,
};

static const uint8_t jpeg_5x3_progressive[] = {
    0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01,
    0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xff, 0xdb, 0x00, 0x43,
    0x00, 0x10, 0x0b, 0x0c, 0x0e, 0x0c, 0x0a, 0x10, 0x0e, 0x0d, 0x0e, 0x12,
    0x11, 0x10, 0x13, 0x18, 0x28, 0x1a, 0x18, 0x16, 0x16, 0x18, 0x31, 0x23,
    0x25, 0x1d, 0x28, 0x3a, 0x33, 0x3d, 0x3c, 0x39, 0x33, 0x38, 0x37, 0x40,
    0x48, 0x5c, 0x4e, 0x40, 0x44, 0x57, 0x45, 0x37, 0x38, 0x50, 0x6d, 0x51,
    0x57, 0x5f, 0x62, 0x67, 0x68, 0x67, 0x3e, 0x4d, 0x71, 0x79, 0x70, 0x64,
    0x78, 0x5c, 0x65, 0x67, 0x63, 0xff, 0xc2, 0x00, 0x0b, 0x08, 0x00, 0x03,
    0x00, 0x05, 0x01, 0x01, 0x11, 0x00, 0xff, 0xc4, 0x00, 0x14, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00,
    0x00, 0x01, 0x7f, 0xff, 0xc4, 0x00, 0x14, 0x10, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x01, 0x05, 0x02, 0x7f,
    0xff, 0xc4, 0x00, 0x14, 0x10, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xda,
    0x00, 0x08, 0x01, 0x01, 0x00, 0x06, 0x3f, 0x02, 0x7f, 0xff, 0xc4, 0x00,
    0x14, 0x10, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xda, 0x00, 0x08, 0x01,
    0x01, 0x00, 0x01, 0x3f, 0x21, 0x7f, 0xff, 0xda, 0x00, 0x08, 0x01, 0x01,
    0x00, 0x00, 0x00, 0x10, 0x7f, 0xff, 0xc4, 0x00, 0x14, 0x10, 0x01, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x01, 0x3f,
    0x10, 0x7f, 0xff, 0xd9,
};

static const uint8_t gif87a_300x2[] = {
    0x47, 0x49, 0x46, 0x38, 0x37, 0x61, 0x2c, 0x01, 0x02, 0x00, 0x80, 0x00,
    0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
};

static const uint8_t gif89a_300x2[] = {
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x2c, 0x01, 0x02, 0x00, 0x80, 0x00,
    0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00,
    0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00,
    0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
};

static const uint8_t webp_lossy_3x2[] = {
    0x52, 0x49, 0x46, 0x46, 0x32, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50,
    0x56, 0x50, 0x38, 0x20, 0x26, 0x00, 0x00, 0x00, 0x90, 0x01, 0x00, 0x9d,
    0x01, 0x2a, 0x03, 0x00, 0x02, 0x00, 0x02, 0xc0, 0x4c, 0x25, 0xa0, 0x02,
    0x74, 0xba, 0x00, 0x03, 0x98, 0x00, 0xfe, 0xed, 0xce, 0xdf, 0x88, 0x5d,
    0xec, 0x6d, 0xbf, 0x8a, 0x01, 0x48, 0xe2, 0x4e, 0x00, 0x00,
};

static const uint8_t webp_lossless_3x2[] = {
    0x52, 0x49, 0x46, 0x46, 0x1e, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50,
    0x56, 0x50, 0x38, 0x4c, 0x11, 0x00, 0x00, 0x00, 0x2f, 0x02, 0x40, 0x00,
    0x00, 0x07, 0x50, 0xa0, 0x02, 0x16, 0xa4, 0xff, 0x81, 0x88, 0xe8, 0x7f,
    0x00, 0x00,
};

static const uint8_t webp_extended_4x3[] = {
    0x52, 0x49, 0x46, 0x46, 0x56, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50,
    0x56, 0x50, 0x38, 0x58, 0x0a, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00,
    0x03, 0x00, 0x00, 0x02, 0x00, 0x00, 0x41, 0x4c, 0x50, 0x48, 0x0a, 0x00,
    0x00, 0x00, 0x01, 0x07, 0x50, 0xc0, 0x88, 0x08, 0x44, 0x44, 0xff, 0x03,
    0x56, 0x50, 0x38, 0x20, 0x26, 0x00, 0x00, 0x00, 0x90, 0x01, 0x00, 0x9d,
    0x01, 0x2a, 0x04, 0x00, 0x03, 0x00, 0x02, 0xc0, 0x4c, 0x25, 0xa0, 0x02,
    0x74, 0xba, 0x00, 0x03, 0x98, 0x00, 0xfe, 0xed, 0xce, 0xdf, 0x88, 0x5d,
    0xec, 0x6d, 0xbf, 0x8a, 0x01, 0x48, 0xe2, 0x4e, 0x00, 0x00,
};


#define SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const fg_image_formula_t gpt_4o = {
    FG_IMAGE_FORMULA_TILES, 85, 170, 0, 0
};
static const fg_image_formula_t gpt_4o_mini = {
    FG_IMAGE_FORMULA_TILES, 2833, 5667, 0, 0
};
static const fg_image_formula_t gpt_4_1 = {
    FG_IMAGE_FORMULA_PATCHES, 0, 0, 1536, 1.0
};
static const fg_image_formula_t gpt_4_1_mini = {
    FG_IMAGE_FORMULA_PATCHES, 0, 0, 1536, 1.62
};

typedef struct {
    const char    *name;
    const uint8_t *bytes;
    size_t         len;
    fg_image_type_t type;
    uint32_t       width;
    uint32_t       height;
} sample_t;

static const sample_t samples[] = {
    { "png_1x1", png_1x1, sizeof(png_1x1), FG_IMAGE_PNG, 1, 1 },
    { "png_640x480_head", png_640x480_head, sizeof(png_640x480_head),
      FG_IMAGE_PNG, 640, 480 },
    { "jpeg_3x2", jpeg_3x2, sizeof(jpeg_3x2), FG_IMAGE_JPEG, 3, 2 },
    { "jpeg_5x3_progressive", jpeg_5x3_progressive,
      sizeof(jpeg_5x3_progressive), FG_IMAGE_JPEG, 5, 3 },
    { "gif87a_300x2", gif87a_300x2, sizeof(gif87a_300x2), FG_IMAGE_GIF,
      300, 2 },
    { "gif89a_300x2", gif89a_300x2, sizeof(gif89a_300x2), FG_IMAGE_GIF,
      300, 2 },
    { "webp_lossy_3x2", webp_lossy_3x2, sizeof(webp_lossy_3x2),
      FG_IMAGE_WEBP, 3, 2 },
    { "webp_lossless_3x2", webp_lossless_3x2, sizeof(webp_lossless_3x2),
      FG_IMAGE_WEBP, 3, 2 },
    { "webp_extended_4x3", webp_extended_4x3, sizeof(webp_extended_4x3),
      FG_IMAGE_WEBP, 4, 3 },
};

/* fg_image_size of @len bytes copied to the heap, so ASan sees any read
 * past them; "TYPE WxH" or "unknown" into @out. */
static const char *
size_of(const uint8_t *bytes, size_t len, char *out, size_t out_size)
{
    uint8_t        *copy = malloc(len > 0 ? len : 1);
    uint32_t        w = 7, h = 7;
    fg_image_type_t t;

    if (len > 0) {
        memcpy(copy, bytes, len);
    }
    t = fg_image_size(copy, len, &w, &h);
    free(copy);
    if (t == FG_IMAGE_UNKNOWN) {
        snprintf(out, out_size, "unknown");
    } else {
        snprintf(out, out_size, "%d %ux%u", (int) t, w, h);
    }
    return out;
}

static const char *
expected_of(const sample_t *s, char *out, size_t out_size)
{
    snprintf(out, out_size, "%d %ux%u", (int) s->type, s->width, s->height);
    return out;
}

/* "data:image/png;base64," or @head, then @len bytes in base64 (padded
 * unless @unpadded); the caller frees it. */
static char *
data_url(const char *head, const uint8_t *bytes, size_t len, int unpadded)
{
    size_t hl = strlen(head);
    size_t bl = sodium_base64_ENCODED_LEN(len,
                                          sodium_base64_VARIANT_ORIGINAL);
    char  *url = malloc(hl + bl);

    memcpy(url, head, hl);
    sodium_bin2base64(url + hl, bl, bytes, len,
                      sodium_base64_VARIANT_ORIGINAL);
    if (unpadded) {
        char *end = url + strlen(url);
        while (end > url + hl && end[-1] == '=') {
            *--end = '\0';
        }
    }
    return url;
}

/* fg_image_size_data_url of the NUL-terminated @url, as size_of(). */
static const char *
url_size_of(const char *url, char *out, size_t out_size)
{
    size_t          len = strlen(url);
    char           *copy = malloc(len > 0 ? len : 1);
    uint32_t        w = 7, h = 7;
    fg_image_type_t t;

    memcpy(copy, url, len);
    t = fg_image_size_data_url(copy, len, &w, &h);
    free(copy);
    if (t == FG_IMAGE_UNKNOWN) {
        snprintf(out, out_size, "unknown");
    } else {
        snprintf(out, out_size, "%d %ux%u", (int) t, w, h);
    }
    return out;
}

static fg_token_bounds_t
tokens(const fg_image_formula_t *f, fg_image_detail_t detail, uint32_t w,
       uint32_t h)
{
    fg_token_bounds_t b = { -1, -1 };

    fg_image_tokens(f, detail, 1, w, h, &b);
    return b;
}

static fg_token_bounds_t
tokens_unsized(const fg_image_formula_t *f, fg_image_detail_t detail)
{
    fg_token_bounds_t b = { -1, -1 };

    fg_image_tokens(f, detail, 0, 0, 0, &b);
    return b;
}

/* ---- image headers ---- */

static void
every_sample_reads_its_type_and_size(void)
{
    char   got[64], want[64];
    size_t i;

    for (i = 0; i < SIZE(samples); i++) {
        size_of(samples[i].bytes, samples[i].len, got, sizeof(got));
        expected_of(&samples[i], want, sizeof(want));
        if (strcmp(got, want) != 0) {
            FG_TEST_FAIL("%s: got \"%s\", expected \"%s\"", samples[i].name,
                         got, want);
        }
    }
}

static void
every_truncation_is_unknown_or_the_right_size(void)
{
    char   got[64], want[64];
    size_t i, cut;

    for (i = 0; i < SIZE(samples); i++) {
        expected_of(&samples[i], want, sizeof(want));
        for (cut = 0; cut < samples[i].len; cut++) {
            size_of(samples[i].bytes, cut, got, sizeof(got));
            if (strcmp(got, "unknown") != 0 && strcmp(got, want) != 0) {
                FG_TEST_FAIL("%s cut at %zu: got \"%s\"", samples[i].name,
                             cut, got);
            }
        }
    }
}

static void
a_header_cut_before_its_size_is_unknown(void)
{
    char got[64];

    expect_str_eq(size_of(png_1x1, 23, got, sizeof(got)), "unknown");
    expect_str_eq(size_of(gif89a_300x2, 9, got, sizeof(got)), "unknown");
    expect_str_eq(size_of(webp_lossy_3x2, 29, got, sizeof(got)), "unknown");
}

static void
png_whose_first_chunk_is_not_ihdr_is_unknown(void)
{
    uint8_t png[sizeof(png_1x1)];
    char    got[64];

    memcpy(png, png_1x1, sizeof(png));
    memcpy(png + 12, "IDAT", 4);
    expect_str_eq(size_of(png, sizeof(png), got, sizeof(got)), "unknown");
}

/* jpeg_3x2 with an APP1 of @app1_len bytes after its APP0 (byte 20): an
 * EXIF block holding a thumbnail's own SOF0 (a 160x120 frame), which must
 * be stepped over, not read. */
static uint8_t *
jpeg_with_exif(size_t app1_len, size_t *len)
{
    static const uint8_t thumb_sof[] = { 0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00,
                                         0x78, 0x00, 0xa0, 0x01, 0x01 };
    uint8_t *j;
    size_t   seg = 2 + app1_len;

    *len = sizeof(jpeg_3x2) + seg;
    j = calloc(1, *len);
    memcpy(j, jpeg_3x2, 20);
    j[20] = 0xff;
    j[21] = 0xe1;
    j[22] = (uint8_t) (app1_len >> 8);
    j[23] = (uint8_t) app1_len;
    memcpy(j + 24, "Exif\0\0", 6);
    memcpy(j + 24 + app1_len - 2 - sizeof(thumb_sof), thumb_sof,
           sizeof(thumb_sof));
    memcpy(j + 20 + seg, jpeg_3x2 + 20, sizeof(jpeg_3x2) - 20);
    return j;
}

static void
jpeg_steps_over_app0_and_app1_to_sof0(void)
{
    size_t   len;
    uint8_t *j = jpeg_with_exif(200, &len);
    char     got[64];

    expect_str_eq(size_of(j, len, got, sizeof(got)), "2 3x2");
    free(j);
}

static void
jpeg_fill_bytes_and_standalone_markers_are_stepped_over(void)
{
    /* SOI, fill 0xFF, RST0, TEM, then SOF0 of 2x1 */
    static const uint8_t j[] = { 0xff, 0xd8, 0xff, 0xff, 0xff, 0xd0, 0xff,
                                 0x01, 0xff, 0xff, 0xc0, 0x00, 0x0b, 0x08,
                                 0x00, 0x01, 0x00, 0x02, 0x01, 0x01, 0x11,
                                 0x00 };
    char got[64];

    expect_str_eq(size_of(j, sizeof(j), got, sizeof(got)), "2 2x1");
}

static void
jpeg_dht_jpg_and_dac_are_not_frames(void)
{
    /* C4, C8 and CC sit among the SOF codes but are tables: their bytes
     * at the size's place (9x9) are never the size. */
    static const uint8_t j[] = {
        0xff, 0xd8,
        0xff, 0xc4, 0x00, 0x08, 0x08, 0x00, 0x09, 0x00, 0x09, 0x01,
        0xff, 0xc8, 0x00, 0x08, 0x08, 0x00, 0x09, 0x00, 0x09, 0x01,
        0xff, 0xcc, 0x00, 0x08, 0x08, 0x00, 0x09, 0x00, 0x09, 0x01,
        0xff, 0xc2, 0x00, 0x08, 0x08, 0x00, 0x04, 0x00, 0x05, 0x01,
    };
    char got[64];

    expect_str_eq(size_of(j, sizeof(j), got, sizeof(got)), "2 5x4");
}

static void
jpeg_reaching_the_scan_before_a_frame_is_unknown(void)
{
    static const uint8_t j[] = { 0xff, 0xd8, 0xff, 0xda, 0x00, 0x08, 0x01,
                                 0x01, 0x00, 0x00, 0x3f, 0x00, 0xff, 0xc0,
                                 0x00, 0x0b, 0x08, 0x00, 0x01, 0x00, 0x02,
                                 0x01, 0x01, 0x11, 0x00 };
    char got[64];

    expect_str_eq(size_of(j, sizeof(j), got, sizeof(got)), "unknown");
}

static void
jpeg_segment_length_past_the_end_is_unknown(void)
{
    uint8_t j[sizeof(jpeg_3x2)];
    char    got[64];

    memcpy(j, jpeg_3x2, sizeof(j));
    j[4] = 0x7f;   /* APP0 claims 0x7f10 bytes: past the file */
    expect_str_eq(size_of(j, sizeof(j), got, sizeof(got)), "unknown");
}

static void
jpeg_frame_header_cut_short_by_its_length_is_unknown(void)
{
    /* SOF0 saying 0x40 bytes where the file has 11 */
    static const uint8_t j[] = { 0xff, 0xd8, 0xff, 0xc0, 0x00, 0x40, 0x08,
                                 0x00, 0x01, 0x00, 0x02, 0x01, 0x01, 0x11,
                                 0x00 };
    char got[64];

    expect_str_eq(size_of(j, sizeof(j), got, sizeof(got)), "unknown");
}

static void
jpeg_segment_length_below_two_is_unknown(void)
{
    uint8_t j[sizeof(jpeg_3x2)];
    char    got[64];

    memcpy(j, jpeg_3x2, sizeof(j));
    j[4] = 0x00;
    j[5] = 0x01;
    expect_str_eq(size_of(j, sizeof(j), got, sizeof(got)), "unknown");
}

static void
a_zero_width_or_height_is_unknown(void)
{
    uint8_t png[sizeof(png_1x1)], gif[sizeof(gif87a_300x2)];
    uint8_t jpeg[sizeof(jpeg_3x2)], vp8[sizeof(webp_lossy_3x2)];
    char    got[64];

    memcpy(png, png_1x1, sizeof(png));
    png[19] = 0;   /* width 0 */
    expect_str_eq(size_of(png, sizeof(png), got, sizeof(got)), "unknown");
    memcpy(gif, gif87a_300x2, sizeof(gif));
    gif[8] = 0;    /* height 0 */
    expect_str_eq(size_of(gif, sizeof(gif), got, sizeof(got)), "unknown");
    memcpy(jpeg, jpeg_3x2, sizeof(jpeg));
    jpeg[0x5f] = 0;   /* SOF0 height 0 (defined later by DNL) */
    expect_str_eq(size_of(jpeg, sizeof(jpeg), got, sizeof(got)), "unknown");
    memcpy(vp8, webp_lossy_3x2, sizeof(vp8));
    vp8[26] = 0;   /* width 0 */
    expect_str_eq(size_of(vp8, sizeof(vp8), got, sizeof(got)), "unknown");
}

static void
huge_sizes_are_returned_as_they_are(void)
{
    uint8_t png[sizeof(png_1x1)], jpeg[sizeof(jpeg_3x2)];
    uint8_t vp8x[sizeof(webp_extended_4x3)];
    char    got[64];

    memcpy(png, png_1x1, sizeof(png));
    memcpy(png + 16, "\x00\x00\xff\xff\x00\x00\xff\xff", 8);
    expect_str_eq(size_of(png, sizeof(png), got, sizeof(got)),
                  "1 65535x65535");
    memcpy(png + 16, "\x7f\xff\xff\xff\x00\x00\x00\x01", 8);
    expect_str_eq(size_of(png, sizeof(png), got, sizeof(got)),
                  "1 2147483647x1");
    memcpy(png + 16, "\x80\x00\x00\x00\x00\x00\x00\x01", 8);
    expect_str_eq(size_of(png, sizeof(png), got, sizeof(got)), "unknown");
    memcpy(jpeg, jpeg_3x2, sizeof(jpeg));
    memcpy(jpeg + 0x5e, "\xff\xff\xff\xff", 4);
    expect_str_eq(size_of(jpeg, sizeof(jpeg), got, sizeof(got)),
                  "2 65535x65535");
    memcpy(vp8x, webp_extended_4x3, sizeof(vp8x));
    memcpy(vp8x + 24, "\xff\xff\xff\xff\xff\xff", 6);
    expect_str_eq(size_of(vp8x, sizeof(vp8x), got, sizeof(got)),
                  "4 16777216x16777216");
}

static void
a_vp8_frame_that_is_not_a_key_frame_is_unknown(void)
{
    uint8_t vp8[sizeof(webp_lossy_3x2)];
    char    got[64];

    memcpy(vp8, webp_lossy_3x2, sizeof(vp8));
    vp8[20] |= 1;
    expect_str_eq(size_of(vp8, sizeof(vp8), got, sizeof(got)), "unknown");
}

static void
garbage_is_unknown(void)
{
    static const uint8_t text[] = "<svg width=\"10\" height=\"10\"/>";
    static const uint8_t riff_wave[] = "RIFF\x24\0\0\0WAVEfmt ";
    char got[64];

    expect_str_eq(size_of(text, sizeof(text) - 1, got, sizeof(got)),
                  "unknown");
    expect_str_eq(size_of(riff_wave, sizeof(riff_wave) - 1, got,
                          sizeof(got)), "unknown");
    expect_str_eq(size_of(NULL, 0, got, sizeof(got)), "unknown");
}

/* ---- data: URLs ---- */

static void
a_data_url_reads_like_its_bytes(void)
{
    char   got[64], want[64];
    char  *url;
    size_t i;

    for (i = 0; i < SIZE(samples); i++) {
        url = data_url("data:image/png;base64,", samples[i].bytes,
                       samples[i].len, 0);
        url_size_of(url, got, sizeof(got));
        expected_of(&samples[i], want, sizeof(want));
        if (strcmp(got, want) != 0) {
            FG_TEST_FAIL("%s: got \"%s\", expected \"%s\"", samples[i].name,
                         got, want);
        }
        free(url);
    }
}

static void
a_data_url_is_read_without_its_padding_too(void)
{
    char  got[64];
    char *url = data_url("data:image/png;base64,", png_640x480_head,
                         sizeof(png_640x480_head), 1);

    expect_str_eq(url_size_of(url, got, sizeof(got)), "1 640x480");
    free(url);
}

static void
data_and_base64_are_taken_in_any_case(void)
{
    char  got[64];
    char *url = data_url("DATA:Image/WebP;charset=x;BASE64,", webp_lossy_3x2,
                         sizeof(webp_lossy_3x2), 0);

    expect_str_eq(url_size_of(url, got, sizeof(got)), "4 3x2");
    free(url);
}

static void
a_data_url_not_in_base64_is_unknown(void)
{
    char got[64];

    expect_str_eq(url_size_of("data:image/gif,GIF89a\x01", got, sizeof(got)),
                  "unknown");
    expect_str_eq(url_size_of("data:image/png;base64x,iVBORw0KGgo=", got,
                              sizeof(got)), "unknown");
    expect_str_eq(url_size_of("data:image/png;base64", got, sizeof(got)),
                  "unknown");
}

static void
a_url_that_is_no_image_data_url_is_unknown(void)
{
    char  got[64];
    char *url = data_url("data:text/plain;base64,", png_1x1,
                         sizeof(png_1x1), 0);

    expect_str_eq(url_size_of(url, got, sizeof(got)), "unknown");
    free(url);
    expect_str_eq(url_size_of("https://example.com/a.png", got, sizeof(got)),
                  "unknown");
    expect_str_eq(url_size_of("data:image/;base64,R0lGODlh", got,
                              sizeof(got)), "unknown");
}

static void
base64_outside_the_standard_alphabet_is_unknown(void)
{
    static const char *const bad[] = {
        "-", "_", "\n", " ", "=", "%",
    };
    char   got[64];
    char  *url;
    size_t i, at;

    url = data_url("data:image/png;base64,", png_1x1, sizeof(png_1x1), 0);
    at = strlen("data:image/png;base64,") + 8;   /* within the signature */
    for (i = 0; i < SIZE(bad); i++) {
        char saved = url[at];

        url[at] = bad[i][0];
        if (strcmp(url_size_of(url, got, sizeof(got)), "unknown") != 0) {
            FG_TEST_FAIL("0x%02x read as \"%s\"", (unsigned) bad[i][0], got);
        }
        url[at] = saved;
    }
    free(url);
}

static void
a_stray_character_anywhere_before_the_size_is_unknown(void)
{
    /* A line break early on shifts every later offset of a decoder that
     * skips it: the size must not be read from the wrong place. */
    char  got[64];
    char *url = data_url("data:image/png;base64,", png_640x480_head,
                         sizeof(png_640x480_head), 0);
    char *p = strchr(url, ',') + 2;

    *p = '\n';
    expect_str_eq(url_size_of(url, got, sizeof(got)), "unknown");
    free(url);
}

static void
characters_past_what_is_read_are_not_looked_at(void)
{
    char  got[64];
    char *url = data_url("data:image/png;base64,", png_1x1, sizeof(png_1x1),
                         0);

    url[strlen(url) - 3] = '-';   /* in the IEND chunk, never decoded */
    expect_str_eq(url_size_of(url, got, sizeof(got)), "1 1x1");
    free(url);
}

static void
a_data_url_jpeg_steps_over_a_60_kb_exif_segment(void)
{
    size_t   len;
    uint8_t *j = jpeg_with_exif(60000, &len);
    char    *url = data_url("data:image/jpeg;base64,", j, len, 0);
    char     got[64];

    expect_str_eq(url_size_of(url, got, sizeof(got)), "2 3x2");
    free(url);
    free(j);
}

static void
a_frame_beyond_the_scan_limit_is_unknown(void)
{
    /* APP2 segments of the largest length, one after another, until
     * SOF0 can only start at or past FG_MEDIA_SCAN_MAX */
    size_t   cap = (size_t) FG_MEDIA_SCAN_MAX + 65537 + sizeof(jpeg_3x2);
    uint8_t *j = calloc(1, cap);
    size_t   pos = 2;
    char     got[64];

    j[0] = 0xff;
    j[1] = 0xd8;
    while (pos < FG_MEDIA_SCAN_MAX) {
        memcpy(j + pos, "\xff\xe2\xff\xff", 4);
        pos += 2 + 0xffff;
    }
    memcpy(j + pos, jpeg_3x2 + 2, sizeof(jpeg_3x2) - 2);
    expect_str_eq(size_of(j, pos + sizeof(jpeg_3x2) - 2, got, sizeof(got)),
                  "unknown");
    free(j);
}

/* ---- image token formulas ---- */

static void
tiles_1024_square_high_is_765_as_openai_shows(void)
{
    fg_token_bounds_t b = tokens(&gpt_4o, FG_IMAGE_DETAIL_HIGH, 1024, 1024);

    expect_int_eq(b.lower, 765);
    expect_int_eq(b.upper, 765);
}

static void
tiles_2048x4096_high_is_1105_as_openai_shows(void)
{
    fg_token_bounds_t b = tokens(&gpt_4o, FG_IMAGE_DETAIL_HIGH, 2048, 4096);

    expect_int_eq(b.lower, 1105);
    expect_int_eq(b.upper, 1105);
}

static void
tiles_low_is_the_base_whatever_the_size(void)
{
    fg_token_bounds_t b = tokens(&gpt_4o, FG_IMAGE_DETAIL_LOW, 4096, 8192);

    expect_int_eq(b.lower, 85);
    expect_int_eq(b.upper, 85);
}

static void
tiles_take_the_formulas_constants(void)
{
    fg_token_bounds_t b = tokens(&gpt_4o_mini, FG_IMAGE_DETAIL_HIGH, 1024,
                                 1024);

    expect_int_eq(b.lower, 2833 + 4 * 5667);
    expect_int_eq(b.upper, 2833 + 4 * 5667);
}

static void
tiles_scale_only_down(void)
{
    /* 1x1 stays one tile; 512x768 stays 1x2 tiles; 513x700 is 2x2 */
    expect_int_eq(tokens(&gpt_4o, FG_IMAGE_DETAIL_HIGH, 1, 1).upper,
                  85 + 170);
    expect_int_eq(tokens(&gpt_4o, FG_IMAGE_DETAIL_HIGH, 512, 768).upper,
                  85 + 170 * 2);
    expect_int_eq(tokens(&gpt_4o, FG_IMAGE_DETAIL_HIGH, 513, 700).upper,
                  85 + 170 * 4);
    /* 768x2048 needs neither scaling and is the most: 2x4 tiles */
    expect_int_eq(tokens(&gpt_4o, FG_IMAGE_DETAIL_HIGH, 768, 2048).upper,
                  1445);
}

static void
tiles_auto_lies_between_low_and_high(void)
{
    fg_token_bounds_t b = tokens(&gpt_4o, FG_IMAGE_DETAIL_AUTO, 2048, 4096);

    expect_int_eq(b.lower, 85);
    expect_int_eq(b.upper, 1105);
}

static void
tiles_without_a_size_are_bounded_by_one_and_eight_tiles(void)
{
    fg_token_bounds_t low = tokens_unsized(&gpt_4o, FG_IMAGE_DETAIL_LOW);
    fg_token_bounds_t high = tokens_unsized(&gpt_4o, FG_IMAGE_DETAIL_HIGH);
    fg_token_bounds_t autod = tokens_unsized(&gpt_4o, FG_IMAGE_DETAIL_AUTO);
    fg_token_bounds_t zero = tokens(&gpt_4o, FG_IMAGE_DETAIL_HIGH, 0, 10);

    expect_int_eq(low.lower, 85);
    expect_int_eq(low.upper, 85);
    expect_int_eq(high.lower, 85 + 170);
    expect_int_eq(high.upper, 1445);
    expect_int_eq(autod.lower, 85);
    expect_int_eq(autod.upper, 1445);
    expect_int_eq(zero.lower, 85 + 170);   /* a zero side is no size */
    expect_int_eq(zero.upper, 1445);
}

static void
tiles_never_exceed_eight_at_any_size(void)
{
    static const uint32_t sides[] = {
        1, 2, 31, 32, 511, 512, 513, 767, 768, 769, 1023, 1024, 1025, 1536,
        2047, 2048, 2049, 3000, 4096, 5461, 5462, 8192, 16383, 65535,
        16777216, 2147483647u, 4294967295u,
    };
    size_t i, k;

    for (i = 0; i < SIZE(sides); i++) {
        for (k = 0; k < SIZE(sides); k++) {
            fg_token_bounds_t b = tokens(&gpt_4o, FG_IMAGE_DETAIL_HIGH,
                                         sides[i], sides[k]);

            if (b.lower != b.upper || b.upper < 255 || b.upper > 1445
                || (b.upper - 85) % 170 != 0)
            {
                FG_TEST_FAIL("%ux%u: [%lld, %lld]", sides[i], sides[k],
                             (long long) b.lower, (long long) b.upper);
            }
        }
    }
}

static void
patches_1024_square_are_1024_as_openai_shows(void)
{
    fg_token_bounds_t b = tokens(&gpt_4_1, FG_IMAGE_DETAIL_HIGH, 1024, 1024);

    expect_int_eq(b.lower, 1024);
    expect_int_eq(b.upper, 1024);
}

static void
patches_1800x2400_are_1452_as_openai_shows(void)
{
    fg_token_bounds_t b = tokens(&gpt_4_1, FG_IMAGE_DETAIL_HIGH, 1800, 2400);

    expect_int_eq(b.lower, 1452);
    expect_int_eq(b.upper, 1452);
}

static void
patches_of_2400x1800_span_both_readings_of_the_docs(void)
{
    /* fitting the width first: 45 x 34; the tighter side first: 44 x 33 */
    fg_token_bounds_t b = tokens(&gpt_4_1, FG_IMAGE_DETAIL_HIGH, 2400, 1800);

    expect_int_eq(b.lower, 1452);
    expect_int_eq(b.upper, 1530);
}

static void
patches_ignore_the_detail(void)
{
    fg_token_bounds_t low = tokens(&gpt_4_1, FG_IMAGE_DETAIL_LOW, 64, 64);
    fg_token_bounds_t autod = tokens(&gpt_4_1, FG_IMAGE_DETAIL_AUTO, 64, 64);

    expect_int_eq(low.lower, 4);
    expect_int_eq(low.upper, 4);
    expect_int_eq(autod.lower, 4);
    expect_int_eq(autod.upper, 4);
}

static void
patches_times_the_multiplier_round_up_and_only_up(void)
{
    /* 1024 x 1.62 = 1658.88; 100 x 1.62 = 162 exactly, though a double
     * holds 1.62 a little above */
    expect_int_eq(tokens(&gpt_4_1_mini, FG_IMAGE_DETAIL_HIGH, 1024,
                         1024).upper, 1659);
    expect_int_eq(tokens(&gpt_4_1_mini, FG_IMAGE_DETAIL_HIGH, 320,
                         320).upper, 162);
}

static void
patches_without_a_size_are_one_to_the_maximum(void)
{
    fg_token_bounds_t b = tokens_unsized(&gpt_4_1_mini, FG_IMAGE_DETAIL_AUTO);

    expect_int_eq(b.lower, 2);      /* 1 x 1.62 */
    expect_int_eq(b.upper, 2489);   /* 1536 x 1.62 = 2488.32 */
}

static void
patches_of_an_image_too_thin_to_shrink_are_bounded(void)
{
    /* 65535x1: 2048 patches, and a shrink would leave no row at all */
    fg_token_bounds_t b = tokens(&gpt_4_1, FG_IMAGE_DETAIL_HIGH, 65535, 1);

    expect_int_eq(b.lower, 1);
    expect_int_eq(b.upper, 1536);
}

static void
patches_never_exceed_the_maximum_at_any_size(void)
{
    static const uint32_t sides[] = {
        1, 31, 32, 33, 1023, 1024, 1800, 2400, 4000, 1474, 49152, 65535,
        16777216, 2147483647u, 4294967295u,
    };
    size_t i, k;

    for (i = 0; i < SIZE(sides); i++) {
        for (k = 0; k < SIZE(sides); k++) {
            fg_token_bounds_t b = tokens(&gpt_4_1, FG_IMAGE_DETAIL_HIGH,
                                         sides[i], sides[k]);

            if (b.lower < 1 || b.lower > b.upper || b.upper > 1536) {
                FG_TEST_FAIL("%ux%u: [%lld, %lld]", sides[i], sides[k],
                             (long long) b.lower, (long long) b.upper);
            }
        }
    }
}

/* ---- audio ---- */

static void
put_le(uint8_t *p, uint32_t v, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        p[i] = (uint8_t) (v >> (8 * i));
    }
}

/* A PCM WAV of @data_len zero bytes whose header says @data_size, into a
 * heap buffer of *@len bytes; @byte_rate 0 means the consistent one. */
static uint8_t *
wav(uint16_t channels, uint32_t rate, uint16_t bits, uint32_t byte_rate,
    uint32_t data_size, size_t data_len, size_t *len)
{
    uint16_t block = (uint16_t) (channels * ((bits + 7) / 8));
    uint8_t *w;

    *len = 44 + data_len;
    w = calloc(1, *len);
    memcpy(w, "RIFF", 4);
    put_le(w + 4, (uint32_t) (*len - 8), 4);
    memcpy(w + 8, "WAVEfmt ", 8);
    put_le(w + 16, 16, 4);
    put_le(w + 20, 1, 2);
    put_le(w + 22, channels, 2);
    put_le(w + 24, rate, 4);
    put_le(w + 28, byte_rate != 0 ? byte_rate : rate * block, 4);
    put_le(w + 32, block, 2);
    put_le(w + 34, bits, 2);
    memcpy(w + 36, "data", 4);
    put_le(w + 40, data_size, 4);
    return w;
}

static fg_token_bounds_t
duration_of(const char *format, const uint8_t *bytes, size_t len,
            int64_t max_ms)
{
    fg_token_bounds_t b = { -1, -1 };
    char             *url = data_url("", bytes, len, 0);

    fg_audio_duration_ms(format, url, strlen(url), max_ms, &b);
    free(url);
    return b;
}

static void
wav_duration_is_exact_from_its_header(void)
{
    /* 8 kHz mono 16-bit: 16000 bytes a second; a part of a ms rounds up */
    size_t            len;
    uint8_t          *w = wav(1, 8000, 16, 0, 1600, 1600, &len);
    fg_token_bounds_t b = duration_of("wav", w, len, 600000);

    expect_int_eq(b.lower, 100);
    expect_int_eq(b.upper, 100);
    free(w);
    w = wav(2, 44100, 16, 0, 1601 * 4, 1601 * 4, &len);
    b = duration_of("wav", w, len, 600000);
    expect_int_eq(b.lower, 37);   /* 6404 / 176400 s = 36.3 ms */
    expect_int_eq(b.upper, 37);
    free(w);
}

static void
wav_of_unknown_data_size_reads_to_the_end(void)
{
    size_t            len;
    uint8_t          *w = wav(1, 8000, 8, 0, 0xffffffff, 4000, &len);
    fg_token_bounds_t b = duration_of("wav", w, len, 600000);

    expect_int_eq(b.lower, 500);
    expect_int_eq(b.upper, 500);
    free(w);
}

static void
wav_data_size_beyond_its_bytes_counts_the_bytes(void)
{
    size_t            len;
    uint8_t          *w = wav(1, 8000, 8, 0, 80000000, 8000, &len);
    fg_token_bounds_t b = duration_of("wav", w, len, 600000);

    expect_int_eq(b.lower, 1000);
    expect_int_eq(b.upper, 1000);
    free(w);
}

static void
wav_chunks_before_the_data_are_stepped_over(void)
{
    /* a 3-byte LIST chunk (padded to 4) between "fmt " and "data" */
    size_t            len, wlen;
    uint8_t          *w = wav(1, 8000, 8, 0, 800, 800, &wlen);
    uint8_t          *x = calloc(1, wlen + 12);
    fg_token_bounds_t b;

    memcpy(x, w, 36);
    memcpy(x + 36, "LIST\x03\0\0\0abc\0", 12);
    memcpy(x + 48, w + 36, wlen - 36);
    len = wlen + 12;
    b = duration_of("wav", x, len, 600000);
    expect_int_eq(b.lower, 100);
    expect_int_eq(b.upper, 100);
    free(x);
    free(w);
}

static void
wav_whose_byte_rate_disagrees_is_bounded_by_its_size(void)
{
    /* a byte rate 1000 times too high would make 8000 bytes 1 ms */
    size_t            len;
    uint8_t          *w = wav(1, 8000, 8, 8000000, 8000, 8000, &len);
    fg_token_bounds_t b = duration_of("wav", w, len, 600000);

    expect_int_eq(b.lower, 0);
    expect_int_eq(b.upper, (int64_t) len);   /* 8 kbit/s: a byte a ms */
    free(w);
}

static void
wav_extensible_with_a_pcm_subformat_is_exact(void)
{
    /* "fmt " of 40 bytes: WAVE_FORMAT_EXTENSIBLE, 8 kHz mono 8-bit, the
     * subformat GUID starting with WAVE_FORMAT_PCM */
    uint8_t           w[68 + 800] = { 0 };
    fg_token_bounds_t b;

    memcpy(w, "RIFF", 4);
    put_le(w + 4, sizeof(w) - 8, 4);
    memcpy(w + 8, "WAVEfmt ", 8);
    put_le(w + 16, 40, 4);
    put_le(w + 20, 0xfffe, 2);
    put_le(w + 22, 1, 2);
    put_le(w + 24, 8000, 4);
    put_le(w + 28, 8000, 4);
    put_le(w + 32, 1, 2);
    put_le(w + 34, 8, 2);
    put_le(w + 36, 22, 2);
    put_le(w + 44, 1, 4);
    memcpy(w + 60, "data", 4);
    put_le(w + 64, 800, 4);
    b = duration_of("wav", w, sizeof(w), 600000);
    expect_int_eq(b.lower, 100);
    expect_int_eq(b.upper, 100);
    put_le(w + 44, 2, 4);   /* MS ADPCM: no rate from the header alone */
    b = duration_of("wav", w, sizeof(w), 600000);
    expect_int_eq(b.lower, 0);
    expect_int_eq(b.upper, (int64_t) sizeof(w));
}

static void
wav_without_a_data_chunk_is_bounded_by_its_whole_size(void)
{
    size_t            len;
    uint8_t          *w = wav(1, 8000, 8, 0, 800, 800, &len);
    fg_token_bounds_t b;

    memcpy(w + 36, "junk", 4);
    b = duration_of("wav", w, len, 600000);
    expect_int_eq(b.lower, 0);
    expect_int_eq(b.upper, 106);   /* 844 bytes at 8000 a second */
    free(w);
}

static void
mp3_is_bounded_by_its_size_at_8_kbps(void)
{
    static const uint8_t frames[3000] = { 0xff, 0xfb, 0x90, 0x64 };
    fg_token_bounds_t    b = duration_of("mp3", frames, sizeof(frames),
                                         600000);

    expect_int_eq(b.lower, 0);
    expect_int_eq(b.upper, 3000);
}

static void
other_formats_are_bounded_by_the_maximum_alone(void)
{
    static const uint8_t opus[300] = { 'O', 'g', 'g', 'S' };
    fg_token_bounds_t    b = duration_of("opus", opus, sizeof(opus), 60000);

    expect_int_eq(b.lower, 0);
    expect_int_eq(b.upper, 60000);
}

static void
durations_are_capped_at_the_maximum(void)
{
    size_t            len;
    uint8_t          *w = wav(1, 8000, 8, 0, 16000, 16000, &len);
    fg_token_bounds_t b = duration_of("wav", w, len, 1500);
    static const uint8_t frames[3000] = { 0xff, 0xfb };

    expect_int_eq(b.lower, 1500);
    expect_int_eq(b.upper, 1500);
    free(w);
    b = duration_of("mp3", frames, sizeof(frames), 1000);
    expect_int_eq(b.lower, 0);
    expect_int_eq(b.upper, 1000);
}

static void
audio_that_is_no_base64_says_only_the_maximum(void)
{
    fg_token_bounds_t b = { -1, -1 };

    fg_audio_duration_ms("mp3", "QUJDR", 5, 60000, &b);   /* 5 characters */
    expect_int_eq(b.lower, 0);
    expect_int_eq(b.upper, 60000);
    fg_audio_duration_ms(NULL, "QUJD", 4, 60000, &b);
    expect_int_eq(b.lower, 0);
    expect_int_eq(b.upper, 60000);
}

FG_TEST_MAIN("media",
             FG_TEST_CASE(every_sample_reads_its_type_and_size),
             FG_TEST_CASE(every_truncation_is_unknown_or_the_right_size),
             FG_TEST_CASE(a_header_cut_before_its_size_is_unknown),
             FG_TEST_CASE(png_whose_first_chunk_is_not_ihdr_is_unknown),
             FG_TEST_CASE(jpeg_steps_over_app0_and_app1_to_sof0),
             FG_TEST_CASE(jpeg_fill_bytes_and_standalone_markers_are_stepped_over),
             FG_TEST_CASE(jpeg_dht_jpg_and_dac_are_not_frames),
             FG_TEST_CASE(jpeg_reaching_the_scan_before_a_frame_is_unknown),
             FG_TEST_CASE(jpeg_segment_length_past_the_end_is_unknown),
             FG_TEST_CASE(jpeg_frame_header_cut_short_by_its_length_is_unknown),
             FG_TEST_CASE(jpeg_segment_length_below_two_is_unknown),
             FG_TEST_CASE(a_zero_width_or_height_is_unknown),
             FG_TEST_CASE(huge_sizes_are_returned_as_they_are),
             FG_TEST_CASE(a_vp8_frame_that_is_not_a_key_frame_is_unknown),
             FG_TEST_CASE(garbage_is_unknown),
             FG_TEST_CASE(a_data_url_reads_like_its_bytes),
             FG_TEST_CASE(a_data_url_is_read_without_its_padding_too),
             FG_TEST_CASE(data_and_base64_are_taken_in_any_case),
             FG_TEST_CASE(a_data_url_not_in_base64_is_unknown),
             FG_TEST_CASE(a_url_that_is_no_image_data_url_is_unknown),
             FG_TEST_CASE(base64_outside_the_standard_alphabet_is_unknown),
             FG_TEST_CASE(a_stray_character_anywhere_before_the_size_is_unknown),
             FG_TEST_CASE(characters_past_what_is_read_are_not_looked_at),
             FG_TEST_CASE(a_data_url_jpeg_steps_over_a_60_kb_exif_segment),
             FG_TEST_CASE(a_frame_beyond_the_scan_limit_is_unknown),
             FG_TEST_CASE(tiles_1024_square_high_is_765_as_openai_shows),
             FG_TEST_CASE(tiles_2048x4096_high_is_1105_as_openai_shows),
             FG_TEST_CASE(tiles_low_is_the_base_whatever_the_size),
             FG_TEST_CASE(tiles_take_the_formulas_constants),
             FG_TEST_CASE(tiles_scale_only_down),
             FG_TEST_CASE(tiles_auto_lies_between_low_and_high),
             FG_TEST_CASE(tiles_without_a_size_are_bounded_by_one_and_eight_tiles),
             FG_TEST_CASE(tiles_never_exceed_eight_at_any_size),
             FG_TEST_CASE(patches_1024_square_are_1024_as_openai_shows),
             FG_TEST_CASE(patches_1800x2400_are_1452_as_openai_shows),
             FG_TEST_CASE(patches_of_2400x1800_span_both_readings_of_the_docs),
             FG_TEST_CASE(patches_ignore_the_detail),
             FG_TEST_CASE(patches_times_the_multiplier_round_up_and_only_up),
             FG_TEST_CASE(patches_without_a_size_are_one_to_the_maximum),
             FG_TEST_CASE(patches_of_an_image_too_thin_to_shrink_are_bounded),
             FG_TEST_CASE(patches_never_exceed_the_maximum_at_any_size),
             FG_TEST_CASE(wav_duration_is_exact_from_its_header),
             FG_TEST_CASE(wav_of_unknown_data_size_reads_to_the_end),
             FG_TEST_CASE(wav_data_size_beyond_its_bytes_counts_the_bytes),
             FG_TEST_CASE(wav_chunks_before_the_data_are_stepped_over),
             FG_TEST_CASE(wav_whose_byte_rate_disagrees_is_bounded_by_its_size),
             FG_TEST_CASE(wav_extensible_with_a_pcm_subformat_is_exact),
             FG_TEST_CASE(wav_without_a_data_chunk_is_bounded_by_its_whole_size),
             FG_TEST_CASE(mp3_is_bounded_by_its_size_at_8_kbps),
             FG_TEST_CASE(other_formats_are_bounded_by_the_maximum_alone),
             FG_TEST_CASE(durations_are_capped_at_the_maximum),
             FG_TEST_CASE(audio_that_is_no_base64_says_only_the_maximum))
