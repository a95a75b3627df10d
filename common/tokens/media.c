/*
 * media.c: image sizes and audio durations from the first bytes of a
 * file, raw or base64, and the providers' image token formulas (see
 * media.h).
 *
 * Every header parser reads through one random-access reader, so the
 * same code serves raw bytes and base64 text. Base64 is decoded a quad at
 * a time where a parser looks (byte k lives in quad k / 3): a JPEG's
 * 60 KB EXIF segment is stepped over, not decoded. The reader serves no
 * offset at or past FG_MEDIA_SCAN_MAX, and every walk below moves forward
 * on each turn, so each is bounded by it.
 */

#include <math.h>
#include <string.h>

#include "common/tokens/media.h"

/* The longest "data:image/...;base64" head read before the comma: a
 * media type with parameters longer than this is no image URL we read. */
#define MEDIA_URL_HEAD_MAX 256

/* The catalog validates formulas; these clamps only keep every product
 * below 2^63 whatever a formula says. */
#define MEDIA_TOKENS_PARAM_MAX ((int64_t) 1 << 40)
#define MEDIA_PATCHES_MAX      ((int64_t) 1 << 20)
#define MEDIA_MICRO            1000000
#define MEDIA_MULTIPLIER_MAX   1e6

/* The TILES formula's most tiles, proven at media_tiles(). */
#define MEDIA_TILES_MAX 8

/* A random-access view of a file's first bytes: raw, or base64 text. */
typedef struct {
    int            is_b64;
    const uint8_t *raw;        /* the bytes, unless is_b64 */
    const char    *b64;        /* base64 text, its padding left off */
    size_t         b64_len;
    uint64_t       total;      /* the whole file's length in bytes */
    uint64_t       size;       /* bytes that may be read: at most
                                  FG_MEDIA_SCAN_MAX */
    size_t         checked;    /* leading characters known to be in the
                                  alphabet */
    uint64_t       quad;       /* which quad quad_bytes holds */
    int            has_quad;
    uint8_t        quad_bytes[3];
} media_reader_t;

static uint64_t
media_min(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static uint64_t
media_ceil_div(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
}

static void
media_reader_raw(media_reader_t *r, const uint8_t *bytes, size_t len)
{
    memset(r, 0, sizeof(*r));
    r->raw = bytes;
    r->total = len;
    r->size = media_min(len, FG_MEDIA_SCAN_MAX);
}

/*
 * Base64 text of @len characters. Only a whole last quad may carry '='
 * padding (one or two); a text without it is taken too, as its length
 * still says how many bytes it holds. -1 when no base64 text has this
 * length (one character past a quad).
 */
static int
media_reader_b64(media_reader_t *r, const char *b64, size_t len)
{
    size_t n = len;

    memset(r, 0, sizeof(*r));
    if (n % 4 == 0 && n > 0 && b64[n - 1] == '=') {
        n--;
        if (b64[n - 1] == '=') {
            n--;
        }
    }
    if (n % 4 == 1) {
        return -1;
    }
    r->is_b64 = 1;
    r->b64 = b64;
    r->b64_len = n;
    r->total = (uint64_t) (n / 4) * 3 + (n % 4 != 0 ? n % 4 - 1 : 0);
    r->size = media_min(r->total, FG_MEDIA_SCAN_MAX);
    return 0;
}

/*
 * The standard alphabet only (RFC 4648 section 4), as data: URLs use it
 * (RFC 2397; WHATWG's forgiving-base64 takes no other). The URL-safe
 * "-_" is refused: a provider that drops characters outside its alphabet
 * would decode other bytes than we read, and refusing costs only
 * exactness (the image is then bounded by its formula).
 */
static int
media_b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

/*
 * The byte at @off into *@out; -1 when it lies outside what may be read
 * or its base64 is not in the alphabet. Every character before the quad
 * is checked too (once, as reads move on): an offset means something only
 * when no character before it would be skipped, so whitespace or any
 * other stray byte anywhere before the read refuses it rather than
 * yielding bytes from the wrong place. Whitespace is not skipped for
 * that reason.
 */
static int
media_byte(media_reader_t *r, uint64_t off, uint8_t *out)
{
    size_t   first, end, i;
    uint32_t bits = 0;

    if (off >= r->size) {
        return -1;
    }
    if (!r->is_b64) {
        *out = r->raw[off];
        return 0;
    }
    if (!r->has_quad || r->quad != off / 3) {
        first = (size_t) (off / 3) * 4;
        end = first + 4 < r->b64_len ? first + 4 : r->b64_len;
        for (; r->checked < end; r->checked++) {
            if (media_b64_value((unsigned char) r->b64[r->checked]) < 0) {
                return -1;
            }
        }
        for (i = first; i < first + 4; i++) {
            bits <<= 6;
            if (i < end) {
                bits |= (uint32_t) media_b64_value((unsigned char) r->b64[i]);
            }
        }
        r->quad_bytes[0] = (uint8_t) (bits >> 16);
        r->quad_bytes[1] = (uint8_t) (bits >> 8);
        r->quad_bytes[2] = (uint8_t) bits;
        r->quad = off / 3;
        r->has_quad = 1;
    }
    *out = r->quad_bytes[off % 3];
    return 0;
}

/* @n (1 to 4) bytes at @off as a big-endian (@big) or little-endian
 * number into *@v; -1 when any cannot be read. */
static int
media_uint(media_reader_t *r, uint64_t off, unsigned n, int big, uint32_t *v)
{
    uint8_t  b;
    unsigned i;

    *v = 0;
    for (i = 0; i < n; i++) {
        if (media_byte(r, off + i, &b) != 0) {
            return -1;
        }
        if (big) {
            *v = (*v << 8) | b;
        } else {
            *v |= (uint32_t) b << (8 * i);
        }
    }
    return 0;
}

static int
media_be(media_reader_t *r, uint64_t off, unsigned n, uint32_t *v)
{
    return media_uint(r, off, n, 1, v);
}

static int
media_le(media_reader_t *r, uint64_t off, unsigned n, uint32_t *v)
{
    return media_uint(r, off, n, 0, v);
}

/* 1 when the @n bytes at @off are @s. */
static int
media_match(media_reader_t *r, uint64_t off, const char *s, size_t n)
{
    uint8_t b;
    size_t  i;

    for (i = 0; i < n; i++) {
        if (media_byte(r, off + i, &b) != 0 || b != (uint8_t) s[i]) {
            return 0;
        }
    }
    return 1;
}

/* The IHDR chunk, which must follow the signature; PNG sizes are at most
 * 2^31 - 1. */
static fg_image_type_t
media_png(media_reader_t *r, uint32_t *width, uint32_t *height)
{
    uint32_t len, w, h;

    if (!media_match(r, 0, "\x89PNG\r\n\x1a\n", 8)
        || media_be(r, 8, 4, &len) != 0 || len != 13
        || !media_match(r, 12, "IHDR", 4)
        || media_be(r, 16, 4, &w) != 0 || media_be(r, 20, 4, &h) != 0
        || w == 0 || h == 0 || w > 0x7fffffff || h > 0x7fffffff)
    {
        return FG_IMAGE_UNKNOWN;
    }
    *width = w;
    *height = h;
    return FG_IMAGE_PNG;
}

/* A start-of-frame marker: SOF0 to SOF15 less DHT, JPG and DAC, which
 * share the range. */
static int
media_jpeg_sof(uint32_t marker)
{
    return marker >= 0xc0 && marker <= 0xcf && marker != 0xc4
           && marker != 0xc8 && marker != 0xcc;
}

/*
 * The markers from SOI on (ITU T.81 annex B): each is 0xFF, any number of
 * fill 0xFF, then its code; standalone ones (TEM, RSTn) carry nothing,
 * the others a length that counts itself. The size is the frame header's;
 * reaching the scan (SOS), the end (EOI) or a second SOI first means
 * there is none to read. The frame header must lie whole within the data,
 * so a length that points past the end never passes.
 */
static fg_image_type_t
media_jpeg(media_reader_t *r, uint32_t *width, uint32_t *height)
{
    uint64_t pos = 2;
    uint32_t len, w, h;
    uint8_t  b;

    if (!media_match(r, 0, "\xff\xd8", 2)) {
        return FG_IMAGE_UNKNOWN;
    }
    while (pos < r->size) {
        if (media_byte(r, pos, &b) != 0 || b != 0xff) {
            return FG_IMAGE_UNKNOWN;
        }
        do {
            pos++;
            if (media_byte(r, pos, &b) != 0) {
                return FG_IMAGE_UNKNOWN;
            }
        } while (b == 0xff);
        pos++;
        if (b == 0x01 || (b >= 0xd0 && b <= 0xd7)) {
            continue;
        }
        if (b == 0x00 || b == 0xd8 || b == 0xd9 || b == 0xda
            || media_be(r, pos, 2, &len) != 0 || len < 2)
        {
            return FG_IMAGE_UNKNOWN;
        }
        if (media_jpeg_sof(b)) {
            /* length(2) precision(1) height(2) width(2) components(1) */
            if (len < 8 || media_byte(r, pos + len - 1, &b) != 0
                || media_be(r, pos + 3, 2, &h) != 0
                || media_be(r, pos + 5, 2, &w) != 0 || w == 0 || h == 0)
            {
                return FG_IMAGE_UNKNOWN;
            }
            *width = w;
            *height = h;
            return FG_IMAGE_JPEG;
        }
        pos += len;
    }
    return FG_IMAGE_UNKNOWN;
}

/* The logical screen's size, which follows the signature. */
static fg_image_type_t
media_gif(media_reader_t *r, uint32_t *width, uint32_t *height)
{
    uint32_t w, h;

    if ((!media_match(r, 0, "GIF87a", 6) && !media_match(r, 0, "GIF89a", 6))
        || media_le(r, 6, 2, &w) != 0 || media_le(r, 8, 2, &h) != 0
        || w == 0 || h == 0)
    {
        return FG_IMAGE_UNKNOWN;
    }
    *width = w;
    *height = h;
    return FG_IMAGE_GIF;
}

/*
 * The first chunk after "RIFF" size "WEBP", as libwebp's WebPGetInfo
 * reads it: "VP8 " (lossy) a key frame's tag, start code and 14-bit
 * sizes (the top two bits are an upscaling hint); "VP8L" (lossless) its
 * signature byte, 14-bit sizes less one and a zero version; "VP8X"
 * (extended) the 24-bit canvas size less one.
 */
static fg_image_type_t
media_webp(media_reader_t *r, uint32_t *width, uint32_t *height)
{
    uint32_t chunk, v, w, h;
    uint8_t  b;

    if (!media_match(r, 0, "RIFF", 4) || !media_match(r, 8, "WEBP", 4)
        || media_le(r, 16, 4, &chunk) != 0)
    {
        return FG_IMAGE_UNKNOWN;
    }
    if (media_match(r, 12, "VP8 ", 4)) {
        if (chunk < 10 || media_le(r, 20, 3, &v) != 0 || (v & 1) != 0
            || !media_match(r, 23, "\x9d\x01\x2a", 3)
            || media_le(r, 26, 2, &w) != 0 || media_le(r, 28, 2, &h) != 0)
        {
            return FG_IMAGE_UNKNOWN;
        }
        w &= 0x3fff;
        h &= 0x3fff;
    } else if (media_match(r, 12, "VP8L", 4)) {
        if (chunk < 5 || media_byte(r, 20, &b) != 0 || b != 0x2f
            || media_le(r, 21, 4, &v) != 0 || (v >> 29) != 0)
        {
            return FG_IMAGE_UNKNOWN;
        }
        w = (v & 0x3fff) + 1;
        h = ((v >> 14) & 0x3fff) + 1;
    } else if (media_match(r, 12, "VP8X", 4)) {
        if (chunk < 10 || media_le(r, 24, 3, &w) != 0
            || media_le(r, 27, 3, &h) != 0)
        {
            return FG_IMAGE_UNKNOWN;
        }
        w++;
        h++;
    } else {
        return FG_IMAGE_UNKNOWN;
    }
    if (w == 0 || h == 0) {
        return FG_IMAGE_UNKNOWN;
    }
    *width = w;
    *height = h;
    return FG_IMAGE_WEBP;
}

static fg_image_type_t
media_image(media_reader_t *r, uint32_t *width, uint32_t *height)
{
    fg_image_type_t type;

    *width = 0;
    *height = 0;
    type = media_png(r, width, height);
    if (type == FG_IMAGE_UNKNOWN) {
        type = media_jpeg(r, width, height);
    }
    if (type == FG_IMAGE_UNKNOWN) {
        type = media_gif(r, width, height);
    }
    if (type == FG_IMAGE_UNKNOWN) {
        type = media_webp(r, width, height);
    }
    return type;
}

fg_image_type_t
fg_image_size(const uint8_t *bytes, size_t len, uint32_t *width,
              uint32_t *height)
{
    media_reader_t r;

    media_reader_raw(&r, bytes, len);
    return media_image(&r, width, height);
}

/* 1 when the @n bytes at @p spell @lower, ASCII letters in any case. */
static int
media_ascii_caseeq(const char *p, const char *lower, size_t n)
{
    size_t i;
    char   c;

    for (i = 0; i < n; i++) {
        c = p[i];
        if (c >= 'A' && c <= 'Z') {
            c = (char) (c - 'A' + 'a');
        }
        if (c != lower[i]) {
            return 0;
        }
    }
    return 1;
}

/*
 * "data:image/<subtype>[;params];base64,<data>" (RFC 2397), "data:" and
 * ";base64" in any case. The subtype is not trusted: the bytes say what
 * the image is.
 */
fg_image_type_t
fg_image_size_data_url(const char *url, size_t len, uint32_t *width,
                       uint32_t *height)
{
    static const char prefix[] = "data:image/";
    static const char suffix[] = ";base64";
    const size_t      np = sizeof(prefix) - 1, ns = sizeof(suffix) - 1;
    const char       *comma;
    size_t            head;
    media_reader_t    r;

    *width = 0;
    *height = 0;
    if (len <= np + ns + 1) {
        return FG_IMAGE_UNKNOWN;
    }
    comma = memchr(url, ',', len < MEDIA_URL_HEAD_MAX ? len
                                                      : MEDIA_URL_HEAD_MAX);
    if (comma == NULL) {
        return FG_IMAGE_UNKNOWN;
    }
    head = (size_t) (comma - url);
    if (head <= np + ns || !media_ascii_caseeq(url, prefix, np)
        || !media_ascii_caseeq(comma - ns, suffix, ns)
        || media_reader_b64(&r, comma + 1, len - head - 1) != 0)
    {
        return FG_IMAGE_UNKNOWN;
    }
    return media_image(&r, width, height);
}

/*
 * The 512-px tiles of a @w x @h image under the TILES formula (OpenAI,
 * "Images and vision", Calculating costs: fit within 2048 x 2048, then
 * shortest side to 768, then count 512-px squares), in exact rational
 * arithmetic: with L the long side and S the short one,
 *   step 1 (L > 2048) makes them 2048 and S * 2048 / L;
 *   step 2 applies when the short side is still above 768, that is
 *     8 S > 3 L after step 1 (S * 2048 / L > 768) or S > 768 without it,
 *     and makes them L * 768 / S and 768 (2 tiles);
 * so after step 2 the long side spans ceil(3 L / 2 S) tiles; after step 1
 * alone, 4 tiles by ceil(4 S / L); without either, ceil(L / 512) by
 * ceil(S / 512).
 * At most 8 tiles, whatever the size: after step 1 no side exceeds 2048
 * (4 tiles) and step 2 only shrinks; after step 2 the short side is at
 * most 768 (2 tiles): it was already, or is made 768. 768 x 2048 reaches
 * 2 x 4 = 8. At least 1 tile, as every side is at least 1 px.
 * No product overflows: sides are below 2^32.
 */
static uint64_t
media_tiles(uint64_t w, uint64_t h)
{
    uint64_t l = w > h ? w : h, s = w > h ? h : w;

    if (l > 2048 ? 8 * s > 3 * l : s > 768) {
        return 2 * media_ceil_div(3 * l, 2 * s);
    }
    if (l > 2048) {
        return 4 * media_ceil_div(4 * s, l);
    }
    return media_ceil_div(l, 512) * media_ceil_div(s, 512);
}

/* floor(sqrt(@x)) for @x below 2^64, by bisection: 32 turns. */
static uint64_t
media_isqrt(uint64_t x)
{
    uint64_t lo = 0, hi = (uint64_t) 1 << 32, mid;

    while (hi - lo > 1) {
        mid = lo + (hi - lo) / 2;
        if (mid * mid <= x) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/*
 * The 32-px patches of a @w x @h image under the PATCHES formula with at
 * most @max (1 to MEDIA_PATCHES_MAX) patches, into [*lo, *hi] (OpenAI,
 * "Images and vision", Calculating costs, the 1800 x 2400 example).
 *
 * Above @max the image shrinks by r = sqrt(32^2 max / (w h)), so it spans
 * w r / 32 = sqrt(max w / h) patches across and sqrt(max h / w) down, and
 * is then shrunk again "to fit in a whole number of patches". The docs
 * fit the width in their example; fitting whichever side needs the
 * larger shrink keeps both within @max. The two readings differ (for
 * 2400 x 1800: 1452 or 1530 patches), so the bounds take both:
 *   width first: floor(sqrt(max w / h)) across, the height following;
 *   tighter side first: that side's floor, the other following.
 * floor(sqrt(q)) is isqrt(floor(q)), and "the width needs the larger
 * shrink" (fw / sqrt(max w / h) <= fh / sqrt(max h / w)) is fw h <= fh w,
 * so this is integer arithmetic: no rounding but the docs' own ceilings.
 * An image more than @max times wider than high (or the reverse) has a
 * side of no patch after the shrink: the docs say nothing of it, so it
 * is bounded by [1, @max]. No product overflows: sides are below 2^32,
 * @max at most 2^20.
 */
static void
media_patches(uint64_t w, uint64_t h, uint64_t max, uint64_t *lo,
              uint64_t *hi)
{
    uint64_t pw = media_ceil_div(w, 32), ph = media_ceil_div(h, 32);
    uint64_t fw, fh, by_width, by_tighter;

    if (pw * ph <= max) {
        *lo = *hi = pw * ph;
        return;
    }
    fw = media_isqrt(max * w / h);
    fh = media_isqrt(max * h / w);
    if (fw == 0 || fh == 0) {
        *lo = 1;
        *hi = max;
        return;
    }
    by_width = fw * media_ceil_div(fw * h, w);
    by_tighter = fw * h <= fh * w ? by_width
                                  : fh * media_ceil_div(fh * w, h);
    *lo = media_min(media_min(by_width, by_tighter), max);
    *hi = media_min(by_width > by_tighter ? by_width : by_tighter, max);
}

static int64_t
media_clamp(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* ceil(@patches x @micro / 10^6): the multiplier in millionths. */
static int64_t
media_patch_tokens(uint64_t patches, uint64_t micro)
{
    return (int64_t) media_ceil_div(patches * micro, MEDIA_MICRO);
}

/*
 * The docs give patch models one formula, whatever the detail. The
 * multiplier is read to the millionth (the docs state two decimals), so
 * that 1.62, which a double holds as 1.6200000000000001, multiplies
 * exactly; the product is then rounded up, never down.
 */
static void
media_patch_bounds(const fg_image_formula_t *f, int known, uint32_t width,
                   uint32_t height, fg_token_bounds_t *out)
{
    uint64_t max, micro, lo = 1, hi;
    double   m = f->multiplier;

    max = (uint64_t) media_clamp(f->max_patches, 1, MEDIA_PATCHES_MAX);
    if (!(m > 0)) {
        micro = 0;
    } else if (m > MEDIA_MULTIPLIER_MAX) {
        micro = (uint64_t) (MEDIA_MULTIPLIER_MAX * MEDIA_MICRO);
    } else {
        micro = (uint64_t) llround(m * MEDIA_MICRO);
    }
    hi = max;
    if (known) {
        media_patches(width, height, max, &lo, &hi);
    }
    out->lower = media_patch_tokens(lo, micro);
    out->upper = media_patch_tokens(hi, micro);
}

void
fg_image_tokens(const fg_image_formula_t *formula, fg_image_detail_t detail,
                int has_size, uint32_t width, uint32_t height,
                fg_token_bounds_t *out)
{
    int     known = has_size && width > 0 && height > 0;
    int64_t base, per_tile, high_lo, high_hi;

    if (formula->kind == FG_IMAGE_FORMULA_PATCHES) {
        media_patch_bounds(formula, known, width, height, out);
        return;
    }
    base = media_clamp(formula->base, 0, MEDIA_TOKENS_PARAM_MAX);
    per_tile = media_clamp(formula->per_tile, 0, MEDIA_TOKENS_PARAM_MAX);
    if (known) {
        high_lo = base + per_tile * (int64_t) media_tiles(width, height);
        high_hi = high_lo;
    } else {
        high_lo = base + per_tile;
        high_hi = base + per_tile * MEDIA_TILES_MAX;
    }
    switch (detail) {
    case FG_IMAGE_DETAIL_LOW:
        out->lower = base;
        out->upper = base;
        break;
    case FG_IMAGE_DETAIL_HIGH:
        out->lower = high_lo;
        out->upper = high_hi;
        break;
    default:   /* auto, or a value no enum names: either of the two */
        out->lower = base;
        out->upper = high_hi;
        break;
    }
}

/* ceil(@bytes x 1000 / @rate) milliseconds (@rate >= 1), INT64_MAX
 * when that is more. */
static int64_t
media_ms(uint64_t bytes, uint64_t rate)
{
    uint64_t seconds = bytes / rate;

    if (seconds > (uint64_t) (INT64_MAX / 1000) - 1) {
        return INT64_MAX;
    }
    return (int64_t) (seconds * 1000
                      + media_ceil_div(bytes % rate * 1000, rate));
}

/* The linear PCM codings (WAVE_FORMAT_PCM, _IEEE_FLOAT, _ALAW, _MULAW):
 * the ones whose byte rate follows from the header alone. */
static int
media_wav_pcm(uint32_t tag)
{
    return tag == 1 || tag == 3 || tag == 6 || tag == 7;
}

/*
 * The "fmt " chunk's bytes a second, when the header is consistent: a
 * PCM coding (directly or as WAVE_FORMAT_EXTENSIBLE's subformat) whose
 * block is channels x bytes a sample and whose byte rate is sample rate x
 * block. A decoder plays PCM by those fields, not by the byte rate, so a
 * header where they disagree is not trusted. 0 when it is not.
 */
static uint64_t
media_wav_rate(media_reader_t *r, uint64_t body, uint32_t size)
{
    uint32_t tag, channels, sample_rate, byte_rate, block, bits;

    if (size < 16 || media_le(r, body, 2, &tag) != 0
        || media_le(r, body + 2, 2, &channels) != 0
        || media_le(r, body + 4, 4, &sample_rate) != 0
        || media_le(r, body + 8, 4, &byte_rate) != 0
        || media_le(r, body + 12, 2, &block) != 0
        || media_le(r, body + 14, 2, &bits) != 0)
    {
        return 0;
    }
    /* WAVE_FORMAT_EXTENSIBLE: the subformat GUID begins with the code */
    if (tag == 0xfffe
        && (size < 40 || media_le(r, body + 24, 4, &tag) != 0)) {
        return 0;
    }
    if (!media_wav_pcm(tag) || channels == 0 || bits == 0 || block == 0
        || block != channels * ((bits + 7) / 8)
        || byte_rate != (uint64_t) sample_rate * block)
    {
        return 0;
    }
    return byte_rate;
}

/*
 * A RIFF/WAVE file's duration from its "fmt " byte rate and its "data"
 * chunk's size, no larger than the bytes that follow it. A data size of
 * 0 or 0xFFFFFFFF is what a writer that could not seek back leaves, and
 * decoders such as FFmpeg's then read to the end: so does this. When the
 * data chunk is not within the scan, the whole file bounds it. -1 when
 * the header does not read.
 */
static int
media_wav(media_reader_t *r, fg_token_bounds_t *out)
{
    uint64_t pos = 12, body, rate = 0, after, n;
    uint32_t size;

    if (!media_match(r, 0, "RIFF", 4) || !media_match(r, 8, "WAVE", 4)) {
        return -1;
    }
    while (pos < r->size && media_le(r, pos + 4, 4, &size) == 0) {
        body = pos + 8;
        if (media_match(r, pos, "fmt ", 4)) {
            rate = media_wav_rate(r, body, size);
            if (rate == 0) {
                return -1;
            }
        } else if (media_match(r, pos, "data", 4)) {
            if (rate == 0) {
                return -1;   /* "fmt " must come first */
            }
            after = r->total > body ? r->total - body : 0;
            n = size == 0 || size == 0xffffffff ? after
                                                : media_min(size, after);
            out->lower = out->upper = media_ms(n, rate);
            return 0;
        }
        pos = body + size + (size & 1);   /* chunks are padded to even */
    }
    if (rate == 0) {
        return -1;
    }
    out->lower = 0;
    out->upper = media_ms(r->total, rate);
    return 0;
}

/*
 * "wav" exact from its header; "mp3" (and a WAV whose header does not
 * read) at most its size at 8 kbit/s, one byte a millisecond: the lowest
 * bit rate in MPEG audio's tables (MPEG-2.5 layer III); free-format
 * streams are not bounded by it. Any other format may be coded below
 * 8 kbit/s (Opus goes to 6), so nothing is said of it.
 */
void
fg_audio_duration_ms(const char *format, const char *b64, size_t len,
                     int64_t max_ms, fg_token_bounds_t *out_ms)
{
    media_reader_t r;
    int64_t        cap = max_ms > 0 ? max_ms : 0;
    int            wav, mp3;

    out_ms->lower = 0;
    out_ms->upper = cap;
    if (format == NULL || b64 == NULL
        || media_reader_b64(&r, b64, len) != 0)
    {
        return;
    }
    wav = strcmp(format, "wav") == 0;
    mp3 = strcmp(format, "mp3") == 0;
    if (wav && media_wav(&r, out_ms) == 0) {
        out_ms->lower = out_ms->lower < cap ? out_ms->lower : cap;
        out_ms->upper = out_ms->upper < cap ? out_ms->upper : cap;
    } else if (wav || mp3) {
        out_ms->upper = (int64_t) media_min(r.total, (uint64_t) cap);
    }
}
