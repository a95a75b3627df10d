/*
 * sse.c: the incremental Server-Sent-Events parser for upstream streams.
 *
 * The design is a line splitter feeding a line interpreter. The splitter
 * scans each read for the next CR or LF. A line that is complete inside
 * the read is interpreted in place, with no copy; only a line still open
 * at the end of a read is copied into the carry buffer, and completed
 * there when its ending arrives. A CR ends a line at once and sets skip_lf,
 * so CRLF split across two reads is still one line ending. The interpreter
 * follows the WHATWG event-stream rules: blank line dispatches, ':' starts
 * a comment, "data" appends to the event's data (joined with "\n"),
 * "event" names it, everything else is ignored.
 *
 * Invariants: the event stream is cut into the same lines and events
 * whatever the read boundaries are (split invariance, fuzzed by
 * tests/fuzz/fuzz_sse.c); no buffer ever holds more than max_bytes plus a
 * NUL, because every append is checked against the limit before it is
 * made; the three buffers are allocated on first use and reused for the
 * whole stream.
 *
 * Deliberately not done: a leading byte-order mark is not stripped (no
 * upstream sends one; it would make the first field's name unknown), "id"
 * and "retry" are not kept (the relay never reconnects an upstream), the
 * empty event name is not replaced by "message", and data is not checked
 * to be UTF-8 or JSON (the relay's business).
 */

#include <stdlib.h>
#include <string.h>

#include "common/base/alloc.h"
#include "common/base/errors.h"
#include "common/wire/sse.h"

#define SSE_BUF_MIN 256

static void sse_buf_append(fg_sse_buf_t *buf, const char *p, size_t n);
static void sse_buf_free(fg_sse_buf_t *buf);
static int sse_fail(fg_sse_parser_t *parser, fg_err_t *err,
                    const char *what);
static int sse_line(fg_sse_parser_t *parser, const char *line, size_t len,
                    fg_sse_event_cb cb, void *arg, fg_err_t *err);
static int sse_dispatch(fg_sse_parser_t *parser, fg_sse_event_cb cb,
                        void *arg);

void
fg_sse_parser_init(fg_sse_parser_t *parser, size_t max_bytes)
{
    memset(parser, 0, sizeof(*parser));
    parser->max_bytes = max_bytes ? max_bytes : FG_SSE_MAX_BYTES_DEFAULT;
}

void
fg_sse_parser_cleanup(fg_sse_parser_t *parser)
{
    if (parser == NULL) {
        return;
    }
    sse_buf_free(&parser->line);
    sse_buf_free(&parser->data);
    sse_buf_free(&parser->event);
    memset(parser, 0, sizeof(*parser));
}

int
fg_sse_parser_feed(fg_sse_parser_t *parser, const char *data, size_t len,
                   fg_sse_event_cb cb, void *arg, fg_err_t *err)
{
    const char *p, *end, *q;
    int         rc;

    if (parser->failed) {
        return sse_fail(parser, err, "a line or event");
    }
    if (len == 0) {
        return FG_OK;
    }
    p = data;
    end = data + len;

    while (p < end) {
        /* The CR that ended the previous line may be half of a CRLF. */
        if (parser->skip_lf) {
            parser->skip_lf = 0;
            if (*p == '\n') {
                p++;
                continue;
            }
        }

        for (q = p; q < end && *q != '\n' && *q != '\r'; q++) {
            /* find the line ending */
        }

        if (q == end) {
            /* An open line: keep it for the next read, within the limit. */
            if ((size_t) (end - p) > parser->max_bytes - parser->line.len) {
                return sse_fail(parser, err, "a line");
            }
            sse_buf_append(&parser->line, p, (size_t) (end - p));
            break;
        }

        parser->skip_lf = (*q == '\r');
        if (parser->line.len > 0) {
            /* The line began in an earlier read: complete it there. */
            if ((size_t) (q - p) > parser->max_bytes - parser->line.len) {
                return sse_fail(parser, err, "a line");
            }
            sse_buf_append(&parser->line, p, (size_t) (q - p));
            rc = sse_line(parser, parser->line.p, parser->line.len, cb, arg,
                          err);
            parser->line.len = 0;
        } else {
            if ((size_t) (q - p) > parser->max_bytes) {
                return sse_fail(parser, err, "a line");
            }
            rc = sse_line(parser, p, (size_t) (q - p), cb, arg, err);
        }
        if (rc != 0) {
            return rc;
        }
        p = q + 1;
    }
    return FG_OK;
}

int
fg_sse_parser_finish(fg_sse_parser_t *parser, fg_sse_event_cb cb, void *arg,
                     fg_err_t *err)
{
    int rc = 0;

    if (parser->failed) {
        return sse_fail(parser, err, "a line or event");
    }
    if (parser->line.len > 0) {
        rc = sse_line(parser, parser->line.p, parser->line.len, cb, arg,
                      err);
        parser->line.len = 0;
    }
    if (rc == 0 && parser->has_data) {
        rc = sse_dispatch(parser, cb, arg);
    }
    /* Empty for the next stream, whatever happened above. */
    parser->data.len = 0;
    parser->event.len = 0;
    parser->has_data = 0;
    parser->skip_lf = 0;
    return rc;
}

/*
 * Interprets one complete line (without its ending). Returns 0, FG_ERR
 * when the event's data would exceed the limit, or the callback's value.
 */
static int
sse_line(fg_sse_parser_t *parser, const char *line, size_t len,
         fg_sse_event_cb cb, void *arg, fg_err_t *err)
{
    const char *colon, *value;
    size_t      name_len, value_len, need;

    if (len == 0) {
        return sse_dispatch(parser, cb, arg);
    }
    if (line[0] == ':') {
        return 0;
    }

    colon = memchr(line, ':', len);
    if (colon == NULL) {
        /* A field name alone has the empty value. */
        name_len = len;
        value = line + len;
        value_len = 0;
    } else {
        name_len = (size_t) (colon - line);
        value = colon + 1;
        value_len = len - name_len - 1;
        if (value_len > 0 && value[0] == ' ') {
            value++;
            value_len--;
        }
    }

    if (name_len == 4 && memcmp(line, "data", 4) == 0) {
        need = value_len + (parser->has_data ? 1 : 0);
        if (need > parser->max_bytes - parser->data.len) {
            return sse_fail(parser, err, "an event");
        }
        if (parser->has_data) {
            sse_buf_append(&parser->data, "\n", 1);
        }
        sse_buf_append(&parser->data, value, value_len);
        parser->has_data = 1;
    } else if (name_len == 5 && memcmp(line, "event", 5) == 0) {
        /* value_len <= len <= max_bytes: the line limit covers it. */
        parser->event.len = 0;
        sse_buf_append(&parser->event, value, value_len);
    }
    return 0;
}

/*
 * The blank line: hands the pending event to @cb if it has data (an event
 * with no data line is dropped, as the WHATWG rules say), then empties it.
 */
static int
sse_dispatch(fg_sse_parser_t *parser, fg_sse_event_cb cb, void *arg)
{
    fg_sse_event_t ev;
    int            rc = 0;

    if (parser->has_data) {
        /* Both buffers exist and have room for the NUL (sse_buf_append). */
        sse_buf_append(&parser->data, "", 0);
        sse_buf_append(&parser->event, "", 0);
        parser->data.p[parser->data.len] = '\0';
        parser->event.p[parser->event.len] = '\0';
        ev.event = parser->event.p;
        ev.event_len = parser->event.len;
        ev.data = parser->data.p;
        ev.data_len = parser->data.len;
        rc = cb(&ev, arg);
    }
    parser->data.len = 0;
    parser->event.len = 0;
    parser->has_data = 0;
    return rc;
}

/*
 * Appends @n bytes, growing by doubling. Always leaves room for one more
 * byte after the contents, so a NUL can be written without a check. The
 * callers bound len + n by max_bytes, so the growth is bounded too.
 */
static void
sse_buf_append(fg_sse_buf_t *buf, const char *p, size_t n)
{
    size_t cap;

    if (buf->len + n + 1 > buf->cap) {
        cap = buf->cap ? buf->cap : SSE_BUF_MIN;
        while (cap < buf->len + n + 1) {
            cap *= 2;
        }
        buf->p = fg_xrealloc(buf->p, cap);
        buf->cap = cap;
    }
    if (n > 0) {
        memcpy(buf->p + buf->len, p, n);
        buf->len += n;
    }
}

static void
sse_buf_free(fg_sse_buf_t *buf)
{
    free(buf->p);
    buf->p = NULL;
    buf->len = 0;
    buf->cap = 0;
}

/* Marks the stream dead; @what names the thing that grew too large. */
static int
sse_fail(fg_sse_parser_t *parser, fg_err_t *err, const char *what)
{
    parser->failed = 1;
    parser->line.len = 0;
    parser->data.len = 0;
    parser->event.len = 0;
    return fg_err_set(err, FG_E_PROVIDER_ERROR, NULL,
                      "The upstream event stream sent %s larger than %zu "
                      "bytes.", what, parser->max_bytes);
}
