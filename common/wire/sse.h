#ifndef FG_COMMON_SSE_H
#define FG_COMMON_SSE_H

/*
 * An incremental parser for Server-Sent Events as upstream providers send
 * them (WHATWG "event stream interpretation"). Bytes go in as they arrive,
 * split anywhere; one callback per complete event comes out. Lines may end
 * in LF, CRLF or CR (a CR at the end of one read and its LF at the start of
 * the next are one line ending). Lines starting with ':' are comments.
 * "data:" lines are joined with "\n", "event:" sets the event's name, an
 * empty line dispatches; "id:", "retry:" and unknown fields are ignored.
 * One optional space after the field's colon is dropped.
 *
 * The parser holds one stream's state in caller-provided storage. Its
 * buffers grow to the largest line and event seen (never beyond the
 * maximum given at init) and are reused, so a stream in steady state
 * allocates nothing per event. Single-threaded: one parser, one caller.
 */

#include <stddef.h>

#include "common/base/errors.h"

#define FG_SSE_MAX_BYTES_DEFAULT (1024 * 1024)   /* 1 MiB */

/* One event, borrowed: valid only during the callback. */
typedef struct {
    const char *event;       /* "event:" value; "" if none (NUL-terminated) */
    size_t      event_len;
    const char *data;        /* "data:" values joined with "\n", no trailing
                                newline (NUL-terminated, may hold NULs) */
    size_t      data_len;
} fg_sse_event_t;

/*
 * Called once per dispatched event. Returns 0 to go on; any other value
 * stops the parse and is returned by fg_sse_parser_feed() (use a positive
 * value so it cannot be mistaken for FG_ERR).
 */
typedef int (*fg_sse_event_cb)(const fg_sse_event_t *ev, void *arg);

/* Growable byte buffer; internal to the parser. */
typedef struct {
    char   *p;
    size_t  len;
    size_t  cap;
} fg_sse_buf_t;

/* Treat as opaque; it lives in the caller's storage. */
typedef struct {
    fg_sse_buf_t line;       /* a line that began in an earlier read */
    fg_sse_buf_t data;       /* the pending event's joined data */
    fg_sse_buf_t event;      /* the pending event's name */
    size_t       max_bytes;  /* limit on one line and on one event's data */
    int          has_data;   /* the pending event saw a data: line */
    int          skip_lf;    /* the last read ended in CR */
    int          failed;     /* a limit was exceeded; the stream is dead */
} fg_sse_parser_t;

/*
 * Initialises @parser for a new stream. @max_bytes bounds both one line
 * (without its ending) and one event's joined data; 0 means
 * FG_SSE_MAX_BYTES_DEFAULT. Allocates nothing; cannot fail.
 */
void fg_sse_parser_init(fg_sse_parser_t *parser, size_t max_bytes);

/*
 * Frees the parser's buffers; the storage itself stays the caller's.
 * Accepts NULL. The parser may be initialised again afterwards.
 */
void fg_sse_parser_cleanup(fg_sse_parser_t *parser);

/*
 * Parses @len bytes of @data (any split of the stream; no NUL needed),
 * calling @cb(event, @arg) for each event completed by them, in order.
 * Returns:
 *   FG_OK     all bytes consumed;
 *   FG_ERR    a line or an event's data exceeded the maximum: @err is set
 *             to FG_E_PROVIDER_ERROR, and the parser stays failed (every
 *             later feed or finish returns FG_ERR again);
 *   other     @cb's non-zero return: the bytes after the line that
 *             completed that event are dropped, and the parser may be fed
 *             again as if they had never arrived.
 * Allocates only when a buffer must grow (aborts on out-of-memory, as
 * fg_xrealloc). Never reads past @len.
 */
int fg_sse_parser_feed(fg_sse_parser_t *parser, const char *data,
                       size_t len, fg_sse_event_cb cb, void *arg,
                       fg_err_t *err);

/*
 * Ends the stream: a final line with no line ending is taken as complete,
 * and a pending event with data is dispatched as if a blank line had
 * followed (browsers drop it; a gateway would rather see a last usage
 * chunk from a provider that forgot the blank line). Returns as
 * fg_sse_parser_feed(). Afterwards the parser is empty and may parse a new
 * stream; its buffers are kept.
 */
int fg_sse_parser_finish(fg_sse_parser_t *parser, fg_sse_event_cb cb,
                         void *arg, fg_err_t *err);

#endif
