/*
 * fuzz_h1head.c: libFuzzer target for the native HTTP/1.1 client's reply
 * head (worker/upstream_h1_reply.c, fg_h1_reply_head and fg_h1_body_init),
 * called as upstream_h1.c calls them: on a read buffer that grows by
 * reads, 1xx heads dropped from it as they end.
 *
 * Input layout: byte 0 seeds the sizes of the reads; the rest is what
 * the provider sends.
 *
 * Properties checked (a broken one aborts):
 *   1) split invariance: reading the stream in pieces ends as one call on
 *      the whole does (same return; on a head: same status, length, bytes
 *      of 1xx dropped and framing), for streams under FG_H1_MAX_HEAD;
 *   2) a head taken lies in the buffer, its status is 200..999, every
 *      field lies inside it; an unfinished head never passes
 *      FG_H1_MAX_HEAD without a refusal;
 *   3) the framing: 204 and 304 have no body; chunked wins over
 *      Content-Length; a body to the close ends keep-alive; the body
 *      bytes taken at once are within what was read and what is due.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "worker/upstream_h1_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_check(int ok)
{
    if (!ok) {
        abort();
    }
}

static int
fuzz_inside(const char *base, size_t len, const char *p, size_t n)
{
    uintptr_t b = (uintptr_t) base, q = (uintptr_t) p;

    return p != NULL && q >= b && q - b <= len && n <= len - (q - b);
}

typedef struct {
    int          rc;
    int          status;
    size_t       head_len;
    size_t       dropped;      /* bytes of 1xx heads */
    fg_h1_body_t body;
} fuzz_result_t;

/* Property 2 and 3 on a head taken from @buf (@len bytes). */
static void
fuzz_check_head(const char *buf, size_t len, size_t head_len,
                const fg_http_head_t *head, const fg_h1_body_t *body)
{
    char   *copy;
    size_t  ready, used;
    int     i, rc;
    fg_h1_body_t b = *body;

    fuzz_check(head_len >= 2 && head_len <= len);
    fuzz_check(head->status >= 200 && head->status <= 999);
    for (i = 0; i < head->field_count; i++) {
        fuzz_check(fuzz_inside(buf, head_len, head->fields[i].name,
                               head->fields[i].name_len));
        fuzz_check(fuzz_inside(buf, head_len, head->fields[i].value,
                               head->fields[i].value_len));
    }
    if (head->status == 204 || head->status == 304) {
        fuzz_check(body->left == 0 && !body->is_chunked);
    } else if (head->is_chunked) {
        fuzz_check(body->is_chunked);
    } else if (head->content_length >= 0) {
        fuzz_check(body->left == head->content_length);
    } else {
        fuzz_check(body->left == -1 && !body->keep_alive);
    }

    /* What follows the head, as the body, in one go. */
    copy = malloc(len - head_len + 1);
    fuzz_check(copy != NULL);
    memcpy(copy, buf + head_len, len - head_len);
    rc = fg_h1_body_ready(&b, copy, len - head_len, &ready, &used);
    fuzz_check(rc == -1 || rc == 0 || rc == 1);
    if (rc >= 0) {
        fuzz_check(ready <= used && used <= len - head_len);
        if (!b.is_chunked && b.left >= 0) {
            fuzz_check((int64_t) ready <= b.left);
            fuzz_check(rc == ((int64_t) ready == b.left));
        }
    }
    free(copy);
}

/* The client's way: reads of pseudo-random sizes into one buffer. */
static void
fuzz_by_reads(const char *stream, size_t size, uint32_t seed,
              fuzz_result_t *r)
{
    fg_http_head_t *head = malloc(sizeof(*head));
    char           *buf = malloc(size + 1);
    size_t          len = 0, fed = 0, scanned = 0, seen = 0, n, hl = 0;

    fuzz_check(head != NULL && buf != NULL);
    memset(r, 0, sizeof(*r));
    while (fed < size) {
        seed = seed * 1103515245u + 12345u;
        n = 1 + (seed >> 16) % 97;
        n = n < size - fed ? n : size - fed;
        memcpy(buf + len, stream + fed, n);
        len += n;
        fed += n;
        r->rc = fg_h1_reply_head(buf, &len, &scanned, &seen, head, &hl);
        fuzz_check(r->rc == -1 || r->rc == 0 || r->rc == 1);
        fuzz_check(len <= fed);
        if (r->rc == 0) {
            fuzz_check(len <= FG_H1_MAX_HEAD);
        }
        if (r->rc != 0) {
            break;
        }
    }
    if (r->rc == 1) {
        r->status = head->status;
        r->head_len = hl;
        r->dropped = fed - len;
        fg_h1_body_init(&r->body, head);
        fuzz_check_head(buf, len, hl, head, &r->body);
    }
    free(buf);
    free(head);
}

static void
fuzz_at_once(const char *stream, size_t size, fuzz_result_t *r)
{
    fg_http_head_t *head = malloc(sizeof(*head));
    char           *buf = malloc(size + 1);
    size_t          len = size, scanned = 0, seen = 0, hl = 0;

    fuzz_check(head != NULL && buf != NULL);
    memset(r, 0, sizeof(*r));
    memcpy(buf, stream, size);
    r->rc = size == 0 ? 0 : fg_h1_reply_head(buf, &len, &scanned, &seen,
                                             head, &hl);
    if (r->rc == 1) {
        r->status = head->status;
        r->head_len = hl;
        r->dropped = size - len;
        fg_h1_body_init(&r->body, head);
        fuzz_check_head(buf, len, hl, head, &r->body);
    }
    free(buf);
    free(head);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_result_t whole, cut;

    if (size < 1) {
        return 0;
    }
    fuzz_at_once((const char *) data + 1, size - 1, &whole);
    fuzz_by_reads((const char *) data + 1, size - 1, data[0], &cut);
    if (size - 1 <= FG_H1_MAX_HEAD) {
        fuzz_check(whole.rc == cut.rc);
        if (whole.rc == 1) {
            fuzz_check(whole.status == cut.status);
            fuzz_check(whole.head_len == cut.head_len);
            fuzz_check(whole.dropped == cut.dropped);
            fuzz_check(whole.body.left == cut.body.left);
            fuzz_check(whole.body.is_chunked == cut.body.is_chunked);
            fuzz_check(whole.body.keep_alive == cut.body.keep_alive);
        }
    }
    return 0;
}
