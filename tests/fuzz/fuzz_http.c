/*
 * fuzz_http.c: libFuzzer target for the HTTP/1.x request parser
 * (common/wire/httpparse.c): the head and the chunked body.
 *
 * Input layout: byte 0 picks max_body for the chunked decoder (SIZE_MAX,
 * 1 MiB, or 0..63 bytes so 413 is hit often), byte 1 max_line (4096, or
 * 0..31 bytes so the 400 for a long size line or trailer is hit often),
 * byte 2 seeds the split points; the rest is the stream, read as a
 * request head and whatever follows it.
 *
 * Properties checked (a broken one aborts, which libFuzzer reports as a
 * crash):
 *   1) fg_http_head_end on the whole stream finds the head where feeding
 *      growing prefixes a byte at a time, with `from` carried, first
 *      finds it (split invariance); a head found is no longer than the
 *      stream and ends in "\n\n" or "\n\r\n".
 *   2) fg_http_parse_head on a head found returns 0, 400, 431, 501 or
 *      505. On 0: the method, the path and every field name and value lie
 *      inside the head; the method is not empty; minor is 0 or 1;
 *      content_length is -1 or more, and not given beside chunked; at
 *      most FG_HTTP_MAX_HEADERS fields; no value starts or ends with a
 *      space or a tab; fg_http_field finds the first field of each name.
 *      fg_http_head_terminate on a copy makes every slice a C string with
 *      the slice's bytes, writes NULs only over delimiters (space, '?',
 *      ':', tab, CR, LF) and changes nothing past the head.
 *   3) fg_http_chunked_decode on the bytes after the head (whatever the
 *      head said, so the decoder is reached without a valid head): one
 *      call over all of them and calls on a buffer whose length grows in
 *      pseudo-random steps, the state, *in and *out carried, end the same
 *      way, with the same *in, *out and decoded bytes. After every call
 *      *out <= *in <= len and the decoded length is within max_body; a
 *      refusal (400, 413) leaves *in and *out as they were.
 *
 * Not checked here: what the worker does with a request (its own tests).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/wire/httpparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_check(int ok)
{
    if (!ok) {
        abort();
    }
}

/* 1 when [@p, @p + @n) lies inside [@base, @base + @len). Compared as
 * integers: a pointer outside the buffer may not be compared with it. */
static int
fuzz_inside(const char *base, size_t len, const char *p, size_t n)
{
    uintptr_t b = (uintptr_t) base, q = (uintptr_t) p;

    return p != NULL && q >= b && q - b <= len && n <= len - (q - b);
}

static size_t
fuzz_off(const char *base, const char *p)
{
    return (size_t) ((uintptr_t) p - (uintptr_t) base);
}

/* Property 1: the head's end, found at once and a byte at a time. */
static size_t
fuzz_head_end(const char *stream, size_t len)
{
    size_t whole, grown = 0, from = 0, n;

    whole = fg_http_head_end(stream, len, &from);
    from = 0;
    for (n = 0; n <= len && grown == 0; n++) {
        grown = fg_http_head_end(stream, n, &from);
        fuzz_check(grown == 0 || grown == n);
    }
    fuzz_check(grown == whole);
    if (whole != 0) {
        fuzz_check(whole >= 2 && whole <= len);
        fuzz_check(stream[whole - 1] == '\n'
                   && (stream[whole - 2] == '\n'
                       || (whole >= 3 && stream[whole - 2] == '\r'
                           && stream[whole - 3] == '\n')));
    }
    return whole;
}

/* The slice @p, @n of @buf after fg_http_head_terminate: a C string,
 * its NUL inside the head, with the bytes @orig holds at the same place. */
static void
fuzz_check_cstr(const char *buf, const char *orig, size_t head_len,
                const char *p, size_t n)
{
    size_t off = fuzz_off(buf, p);

    fuzz_check(off < head_len && n < head_len - off);
    fuzz_check(p[n] == '\0');
    fuzz_check(memchr(p, '\0', n) == NULL);
    fuzz_check(memcmp(p, orig + off, n) == 0);
}

/* Property 2, on a parse that returned 0. */
static void
fuzz_check_head(const char *stream, size_t len, size_t head_len,
                const fg_http_head_t *head)
{
    fg_http_head_t         *again;
    const fg_http_field_t  *f;
    const char             *v;
    char                   *copy;
    size_t                  i, vlen;
    int                     j, k;

    fuzz_check(head->head_len == head_len);
    fuzz_check(head->method_len > 0);
    fuzz_check(fuzz_inside(stream, head_len, head->method_name,
                           head->method_len));
    fuzz_check(fuzz_inside(stream, head_len, head->path, head->path_len));
    fuzz_check(head->minor == 0 || head->minor == 1);
    fuzz_check(head->content_length >= -1);
    fuzz_check(!(head->is_chunked && head->content_length >= 0));
    fuzz_check(head->field_count >= 0
               && head->field_count <= FG_HTTP_MAX_HEADERS);
    for (j = 0; j < head->field_count; j++) {
        f = &head->fields[j];
        fuzz_check(fuzz_inside(stream, head_len, f->name, f->name_len));
        fuzz_check(fuzz_inside(stream, head_len, f->value, f->value_len));
        if (f->value_len > 0) {
            fuzz_check(f->value[0] != ' ' && f->value[0] != '\t');
            fuzz_check(f->value[f->value_len - 1] != ' '
                       && f->value[f->value_len - 1] != '\t');
        }
    }

    /* The same head parsed again from a copy, then terminated in it. */
    copy = malloc(len);
    again = malloc(sizeof(*again));
    fuzz_check(copy != NULL && again != NULL);
    memcpy(copy, stream, len);
    fuzz_check(fg_http_parse_head(copy, head_len, again) == 0);
    fuzz_check(again->field_count == head->field_count);
    fg_http_head_terminate(again, copy);

    fuzz_check_cstr(copy, stream, head_len,
                    again->method_name, again->method_len);
    fuzz_check(fuzz_off(copy, again->method_name)
               == fuzz_off(stream, head->method_name));
    fuzz_check_cstr(copy, stream, head_len,
                    again->path, again->path_len);
    fuzz_check(fuzz_off(copy, again->path) == fuzz_off(stream, head->path));
    for (j = 0; j < again->field_count; j++) {
        f = &again->fields[j];
        fuzz_check_cstr(copy, stream, head_len, f->name, f->name_len);
        fuzz_check_cstr(copy, stream, head_len, f->value, f->value_len);
        fuzz_check(fuzz_off(copy, f->name)
                   == fuzz_off(stream, head->fields[j].name));
        fuzz_check(fuzz_off(copy, f->value)
                   == fuzz_off(stream, head->fields[j].value));
    }
    for (i = 0; i < len; i++) {
        if (copy[i] != stream[i]) {
            fuzz_check(i < head_len && copy[i] == '\0'
                       && memchr(" ?:\t\r\n", stream[i], 6) != NULL);
        }
    }

    /* fg_http_field: the first field of a name, in any case. */
    for (j = 0; j < again->field_count; j++) {
        f = &again->fields[j];
        for (k = 0; strcasecmp(again->fields[k].name, f->name) != 0; k++) {
        }
        v = fg_http_field(again, f->name, &vlen);
        fuzz_check(v == again->fields[k].value
                   && vlen == again->fields[k].value_len);
    }

    free(again);
    free(copy);
}

/* Checks after any fg_http_chunked_decode call, given *in and *out
 * before it (@in0, @out0). */
static void
fuzz_check_decode(int rc, size_t in0, size_t out0, size_t in, size_t out,
                  size_t len, size_t max_body)
{
    fuzz_check(rc == 0 || rc == 1 || rc == 400 || rc == 413);
    fuzz_check(out <= in && in <= len);
    fuzz_check(out <= max_body);
    if (rc == 400 || rc == 413) {
        fuzz_check(in == in0 && out == out0);
    }
}

/* Property 3: the bytes after the head, decoded at once and in pieces. */
static void
fuzz_chunked(const char *body, size_t len, size_t max_body, size_t max_line,
             uint32_t seed)
{
    fg_http_chunked_t whole_st, cut_st;
    char             *whole, *cut;
    size_t            whole_in = 0, whole_out = 0, in = 0, out = 0;
    size_t            in0, out0, avail = 0, n;
    int               whole_rc, rc = 0;

    /* Exact-size buffers, so ASan sees a read past len. */
    whole = malloc(len > 0 ? len : 1);
    cut = malloc(len > 0 ? len : 1);
    fuzz_check(whole != NULL && cut != NULL);
    memcpy(whole, body, len);
    memcpy(cut, body, len);

    memset(&whole_st, 0, sizeof(whole_st));
    whole_rc = fg_http_chunked_decode(&whole_st, whole, len, &whole_in,
                                      &whole_out, max_body, max_line);
    fuzz_check_decode(whole_rc, 0, 0, whole_in, whole_out, len, max_body);

    memset(&cut_st, 0, sizeof(cut_st));
    while (avail < len && rc == 0) {
        seed = seed * 1103515245u + 12345u;
        n = 1 + (seed >> 16) % 17;
        avail += n < len - avail ? n : len - avail;
        in0 = in;
        out0 = out;
        rc = fg_http_chunked_decode(&cut_st, cut, avail, &in, &out,
                                    max_body, max_line);
        fuzz_check_decode(rc, in0, out0, in, out, avail, max_body);
    }
    if (len == 0) {
        rc = fg_http_chunked_decode(&cut_st, cut, 0, &in, &out, max_body,
                                    max_line);
        fuzz_check_decode(rc, 0, 0, in, out, 0, max_body);
    }

    fuzz_check(rc == whole_rc);
    if (rc == 0 || rc == 1) {
        fuzz_check(in == whole_in && out == whole_out);
        fuzz_check(memcmp(cut, whole, out) == 0);
    }

    free(whole);
    free(cut);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fg_http_head_t *head;
    size_t          max_body, max_line, head_len;
    uint32_t        seed;
    const char     *stream;
    int             rc;

    if (size < 3) {
        return 0;
    }
    max_body = data[0] % 8 == 0 ? SIZE_MAX
               : data[0] % 8 == 1 ? (size_t) 1 << 20
               : (size_t) (data[0] >> 2) % 64;
    max_line = data[1] % 4 == 0 ? 4096 : (size_t) (data[1] >> 2) % 32;
    seed = data[2];
    stream = (const char *) data + 3;
    size -= 3;

    head_len = fuzz_head_end(stream, size);
    if (head_len == 0) {
        return 0;
    }

    head = malloc(sizeof(*head));
    fuzz_check(head != NULL);
    rc = fg_http_parse_head(stream, head_len, head);
    fuzz_check(rc == 0 || rc == 400 || rc == 431 || rc == 501 || rc == 505);
    if (rc == 0) {
        fuzz_check_head(stream, size, head_len, head);
    }
    free(head);

    fuzz_chunked(stream + head_len, size - head_len, max_body, max_line,
                 seed);
    return 0;
}
