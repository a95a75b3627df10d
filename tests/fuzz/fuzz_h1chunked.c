/*
 * fuzz_h1chunked.c: libFuzzer target for the native HTTP/1.1 client's
 * reply body (worker/upstream_h1_reply.c: fg_h1_body_ready and
 * fg_h1_body_consumed), driven as upstream_h1.c drives it: bytes arrive
 * in reads, what is ready is relayed or the relay pauses (the same bytes
 * are offered again later, maybe with more behind them), and what was
 * relayed is dropped from the buffer's start. Chunked framing most of the
 * time; Content-Length and to-the-close too.
 *
 * Input layout: byte 0 picks the framing (3 of 4: chunked; else a
 * Content-Length of byte 1, or to the close when byte 1 is 255), byte 1
 * also seeds the read sizes, byte 2 the pauses; the rest is the body
 * stream as the provider sends it.
 *
 * Properties checked (a broken one aborts):
 *   1) after every call: *ready <= *used <= the bytes held; a call again
 *      with nothing new (a paused relay) answers the same;
 *   2) split invariance: the bytes relayed across reads and pauses are
 *      exactly those one call on the whole stream makes ready, and the
 *      ends agree (1: body done, 0: more due, -1: malformed: then
 *      the stream is refused read in pieces too);
 *   3) Content-Length: never more relayed than due, and done exactly
 *      when all of it is.
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

static void
fuzz_body_init(fg_h1_body_t *b, uint8_t kind, uint8_t length)
{
    memset(b, 0, sizeof(*b));
    if (kind % 4 != 3) {
        b->is_chunked = 1;
        b->keep_alive = 1;
    } else if (length != 255) {
        b->left = length;
        b->keep_alive = 1;
    } else {
        b->left = -1;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fg_h1_body_t body, again, whole_body;
    const char  *stream;
    char        *buf, *whole, *out;
    size_t       len = 0, fed = 0, out_len = 0, ready, used, r2, u2, n;
    size_t       whole_ready = 0, whole_used = 0;
    uint32_t     read_seed, pause_seed;
    int          rc = 0, rc2, whole_rc;

    if (size < 3) {
        return 0;
    }
    fuzz_body_init(&body, data[0], data[1]);
    whole_body = body;
    read_seed = data[1];
    pause_seed = data[2];
    stream = (const char *) data + 3;
    size -= 3;

    /* The reference: one call on all of it. */
    whole = malloc(size + 1);
    fuzz_check(whole != NULL);
    memcpy(whole, stream, size);
    whole_rc = fg_h1_body_ready(&whole_body, whole, size, &whole_ready,
                                &whole_used);
    fuzz_check(whole_rc >= -1 && whole_rc <= 1);
    if (whole_rc >= 0) {
        fuzz_check(whole_ready <= whole_used && whole_used <= size);
    }

    buf = malloc(size + 1);
    out = malloc(size + 1);
    fuzz_check(buf != NULL && out != NULL);
    /* Bounded: each pass reads at least a byte, or is the last. */
    for (;;) {
        if (fed < size) {
            read_seed = read_seed * 1103515245u + 12345u;
            n = 1 + (read_seed >> 16) % 61;
            n = n < size - fed ? n : size - fed;
            memcpy(buf + len, stream + fed, n);
            len += n;
            fed += n;
        }
        rc = fg_h1_body_ready(&body, buf, len, &ready, &used);
        fuzz_check(rc >= -1 && rc <= 1);
        if (rc < 0) {
            break;
        }
        fuzz_check(ready <= used && used <= len);
        /* Property 1: a paused relay asks again and hears the same. */
        again = body;
        rc2 = fg_h1_body_ready(&again, buf, len, &r2, &u2);
        fuzz_check(rc2 == rc && r2 == ready && u2 == used);
        pause_seed = pause_seed * 1103515245u + 12345u;
        if ((pause_seed >> 16) % 4 == 0 && fed < size && rc == 0) {
            continue;   /* paused: offered again with the next read */
        }
        memcpy(out + out_len, buf, ready);
        out_len += ready;
        memmove(buf, buf + used, len - used);
        len -= used;
        fg_h1_body_consumed(&body, ready);
        if (rc == 1 || fed == size) {
            break;   /* the body's end, or the stream's */
        }
    }

    /* Property 2. */
    if (whole_rc < 0) {
        fuzz_check(rc < 0);
    } else {
        fuzz_check(rc == whole_rc);
        fuzz_check(out_len == whole_ready);
        fuzz_check(memcmp(out, whole, out_len) == 0);
    }
    /* Property 3. */
    if (data[0] % 4 == 3 && data[1] != 255) {
        fuzz_check(out_len <= data[1]);
        fuzz_check((rc == 1) == (out_len == data[1]));
    }

    free(whole);
    free(buf);
    free(out);
    return 0;
}
