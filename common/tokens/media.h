#ifndef FG_COMMON_TOKENS_MEDIA_H
#define FG_COMMON_TOKENS_MEDIA_H

/*
 * What an image or an audio part of a prompt costs in tokens, without
 * fetching anything: the real width and height of an image sent inline
 * (a data: URL, read from its PNG, JPEG, WebP or GIF header), the
 * duration of inline audio (WAV header; other formats by a bound from
 * their size), and the model's formula for each (docs/api.md,
 * "Metering", names the sources).
 *
 * Everything here is pure: no allocation, no I/O, bounded work (a
 * header is looked for in at most FG_MEDIA_SCAN_MAX decoded bytes).
 */

#include <stddef.h>
#include <stdint.h>

#include "common/tokens/bounds.h"

/* How far into an inline image its size is looked for (JPEG's SOF may
 * follow EXIF, XMP and ICC segments). */
#define FG_MEDIA_SCAN_MAX (1024 * 1024)

typedef enum {
    FG_IMAGE_FORMULA_TILES = 0,   /* fit in 2048x2048, shortest side to
                                     768, then base + per_tile x 512-px
                                     tiles; "low" is base alone
                                     (gpt-4o: 85 + 170) */
    FG_IMAGE_FORMULA_PATCHES      /* 32-px patches, scaled down to at
                                     most max_patches, times multiplier
                                     (gpt-4.1-mini: 1536, 1.62) */
} fg_image_formula_kind_t;

typedef struct {
    fg_image_formula_kind_t kind;
    int64_t                 base;          /* tiles: per image */
    int64_t                 per_tile;      /* tiles */
    int64_t                 max_patches;   /* patches */
    double                  multiplier;    /* patches: tokens a patch */
} fg_image_formula_t;

typedef enum {
    FG_IMAGE_DETAIL_AUTO = 0,
    FG_IMAGE_DETAIL_LOW,
    FG_IMAGE_DETAIL_HIGH
} fg_image_detail_t;

typedef enum {
    FG_IMAGE_UNKNOWN = 0,
    FG_IMAGE_PNG,
    FG_IMAGE_JPEG,
    FG_IMAGE_GIF,
    FG_IMAGE_WEBP
} fg_image_type_t;

/*
 * Reads the width and height from the first @len bytes of an image file.
 * Returns its type with *@width and *@height set (both >= 1), or
 * FG_IMAGE_UNKNOWN when the bytes are no image of these four types, are
 * truncated before the size, or state a zero size.
 */
fg_image_type_t fg_image_size(const uint8_t *bytes, size_t len,
                              uint32_t *width, uint32_t *height);

/*
 * The same for a data: URL ("data:image/png;base64,...", @len bytes, no
 * NUL needed): the base64 is decoded only where the header reader looks
 * (a JPEG's segments are skipped, not decoded). FG_IMAGE_UNKNOWN for
 * any other URL, a URL that is not base64, or base64 with characters
 * outside its alphabet where the reader looks.
 */
fg_image_type_t fg_image_size_data_url(const char *url, size_t len,
                                       uint32_t *width, uint32_t *height);

/*
 * The tokens of one image under @formula at @detail: the formula applied
 * to @width x @height when @has_size (a range where its documentation
 * reads two ways), else the bounds over every size (lower: the smallest
 * image, upper: the formula's maximum). "auto" lies between "low"
 * (lower) and "high" (upper), as the model chooses.
 */
void fg_image_tokens(const fg_image_formula_t *formula,
                     fg_image_detail_t detail, int has_size,
                     uint32_t width, uint32_t height,
                     fg_token_bounds_t *out);

/*
 * The duration of inline audio (@b64, @len bytes of base64, the
 * input_audio part's "data") in @format ("wav", "mp3", ...), in
 * milliseconds: exact for a PCM WAV whose header reads (lower == upper);
 * for "mp3", or a WAV whose header does not read, lower 0 and upper the
 * data's size at 8 kbit/s (MPEG audio's lowest bit rate). When nothing
 * can be said (another format, no base64 length), lower 0 and upper
 * @max_ms. Both are capped at @max_ms in every case.
 */
void fg_audio_duration_ms(const char *format, const char *b64, size_t len,
                          int64_t max_ms, fg_token_bounds_t *out_ms);

#endif
