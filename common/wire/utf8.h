#ifndef FG_COMMON_UTF8_H
#define FG_COMMON_UTF8_H

/*
 * UTF-8 as RFC 3629 defines it: the one check the JSON parser, the access
 * log and the usage records share.
 */

#include <stddef.h>

/*
 * The length (1 to 4) of the well-formed UTF-8 sequence at @p, of which
 * @n bytes are readable (n >= 1), or 0 when there is none there: an
 * overlong form, a surrogate, a value above U+10FFFF, a stray
 * continuation byte or a sequence cut short.
 */
size_t fg_utf8_len(const unsigned char *p, size_t n);

/*
 * The code points in @n bytes of UTF-8 at @p: the bytes that are not
 * continuation bytes (10xxxxxx), so a JSON Schema length or a legacy
 * text_offset. Meant for text already checked; cannot fail.
 */
size_t fg_utf8_count(const unsigned char *p, size_t n);

#endif
