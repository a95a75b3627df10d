/*
 * utf8.c: the length of one well-formed UTF-8 sequence. The second byte's
 * range excludes the overlong forms (after E0 and F0), the surrogates
 * (after ED) and what lies above U+10FFFF (after F4); the lead bytes C0,
 * C1 and F5 to FF never start one.
 */

#include "common/wire/utf8.h"

size_t
fg_utf8_len(const unsigned char *p, size_t n)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t        len, k;

    if (p[0] < 0x80) {
        return 1;
    }
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3;
        if (p[0] == 0xe0) {
            lo = 0xa0;
        } else if (p[0] == 0xed) {
            hi = 0x9f;
        }
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4;
        if (p[0] == 0xf0) {
            lo = 0x90;
        } else if (p[0] == 0xf4) {
            hi = 0x8f;
        }
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (k = 2; k < len; k++) {
        if (p[k] < 0x80 || p[k] > 0xbf) {
            return 0;
        }
    }
    return len;
}

size_t
fg_utf8_count(const unsigned char *p, size_t n)
{
    size_t i, count = 0;

    for (i = 0; i < n; i++) {
        count += (p[i] & 0xc0) != 0x80;
    }
    return count;
}
