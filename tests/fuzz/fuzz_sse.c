/*
 * fuzz_sse.c: libFuzzer target for the upstream SSE parser (common/wire/sse.c).
 *
 * Input layout: byte 0 picks the limit (default 1 MiB, or 1..63 bytes so
 * the limit is hit often), byte 1 the event after which the callback asks
 * to stop (0: never), byte 2 seeds the split points; the rest is the
 * stream. The same stream is parsed three times: in one read, byte by
 * byte, and cut at pseudo-random points. Each run writes a transcript
 * (every event's name and data, then how the run ended: finished, stopped
 * or failed) and the three transcripts must be identical: split
 * invariance, reliability.md 4.1. Each event and each buffer must also
 * stay within the limit (bounded memory per stream).
 *
 * Not checked here: what the relay does with an event.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/errors.h"
#include "common/wire/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    char   *p;
    size_t  len;
    size_t  cap;
    size_t  max_bytes;
    int     events;
    int     stop_after;
} fuzz_log_t;

typedef enum {
    FUZZ_WHOLE,
    FUZZ_BYTES,
    FUZZ_RANDOM
} fuzz_split_t;

static void
fuzz_check(int ok)
{
    if (!ok) {
        abort();
    }
}

static void
fuzz_log_append(fuzz_log_t *log, const void *p, size_t n)
{
    if (log->len + n > log->cap) {
        log->cap = (log->len + n) * 2 + 64;
        log->p = realloc(log->p, log->cap);
        fuzz_check(log->p != NULL);
    }
    memcpy(log->p + log->len, p, n);
    log->len += n;
}

static int
fuzz_on_event(const fg_sse_event_t *ev, void *arg)
{
    fuzz_log_t *log = arg;

    fuzz_check(ev->data_len <= log->max_bytes);
    fuzz_check(ev->event_len <= log->max_bytes);
    fuzz_check(ev->data[ev->data_len] == '\0');
    fuzz_check(ev->event[ev->event_len] == '\0');
    fuzz_log_append(log, &ev->event_len, sizeof(ev->event_len));
    fuzz_log_append(log, ev->event, ev->event_len);
    fuzz_log_append(log, &ev->data_len, sizeof(ev->data_len));
    fuzz_log_append(log, ev->data, ev->data_len);
    log->events++;
    return log->stop_after != 0 && log->events == log->stop_after ? 7 : 0;
}

/* Buffers grow by doubling from 256 and never hold more than the limit. */
static void
fuzz_check_bounded(const fg_sse_parser_t *p)
{
    size_t bound = 2 * (p->max_bytes + 1);

    if (bound < 256) {
        bound = 256;
    }
    fuzz_check(p->line.cap <= bound && p->line.len <= p->max_bytes);
    fuzz_check(p->data.cap <= bound && p->data.len <= p->max_bytes);
    fuzz_check(p->event.cap <= bound && p->event.len <= p->max_bytes);
}

/* Parses @stream cut as @split says; the transcript goes to @log. */
static void
fuzz_run(const char *stream, size_t len, size_t max_bytes, int stop_after,
         fuzz_split_t split, uint32_t seed, fuzz_log_t *log)
{
    fg_sse_parser_t parser;
    fg_err_t        err;
    size_t          off = 0, n;
    int             rc = FG_OK;
    char            end;

    memset(log, 0, sizeof(*log));
    log->max_bytes = max_bytes ? max_bytes : FG_SSE_MAX_BYTES_DEFAULT;
    log->stop_after = stop_after;
    fg_sse_parser_init(&parser, max_bytes);

    while (off < len && rc == FG_OK) {
        switch (split) {
        case FUZZ_WHOLE:
            n = len - off;
            break;
        case FUZZ_BYTES:
            n = 1;
            break;
        default:
            seed = seed * 1103515245u + 12345u;
            n = 1 + (seed >> 16) % 17;
            if (n > len - off) {
                n = len - off;
            }
            break;
        }
        rc = fg_sse_parser_feed(&parser, stream + off, n, fuzz_on_event, log,
                                &err);
        off += n;
        fuzz_check_bounded(&parser);
    }
    if (rc == FG_OK) {
        rc = fg_sse_parser_finish(&parser, fuzz_on_event, log, &err);
    }
    fuzz_check(rc == FG_OK || rc == FG_ERR || rc == 7);
    if (rc == FG_ERR) {
        fuzz_check(err.code == FG_E_PROVIDER_ERROR);
    }
    end = rc == FG_OK ? 'F' : rc == FG_ERR ? 'E' : 'S';
    fuzz_log_append(log, &end, 1);
    fg_sse_parser_cleanup(&parser);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_log_t  whole, bytes, cut;
    size_t      max_bytes;
    int         stop_after;
    uint32_t    seed;
    const char *stream;

    if (size < 3) {
        return 0;
    }
    max_bytes = data[0] % 4 == 0 ? 0 : (size_t) (1 + data[0] % 63);
    stop_after = data[1] % 8;
    seed = data[2];
    stream = (const char *) data + 3;
    size -= 3;

    fuzz_run(stream, size, max_bytes, stop_after, FUZZ_WHOLE, seed, &whole);
    fuzz_run(stream, size, max_bytes, stop_after, FUZZ_BYTES, seed, &bytes);
    fuzz_run(stream, size, max_bytes, stop_after, FUZZ_RANDOM, seed, &cut);

    fuzz_check(whole.len == bytes.len
               && memcmp(whole.p, bytes.p, whole.len) == 0);
    fuzz_check(whole.len == cut.len && memcmp(whole.p, cut.p, whole.len) == 0);

    free(whole.p);
    free(bytes.p);
    free(cut.p);
    return 0;
}
