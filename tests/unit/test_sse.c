/*
 * test_sse.c: the incremental SSE parser. Events are recorded as a
 * transcript ("[name]data|" per event), so split invariance is one string
 * comparison: the same stream fed whole, byte by byte and cut at every one
 * and every two positions must give the same transcript.
 */

#include "common/wire/sse.h"

#include <stdlib.h>
#include <string.h>

#include "tests/unit/fg_test.h"

#define SSE_LOG_MAX 8192

typedef struct {
    char   log[SSE_LOG_MAX];
    size_t len;
    int    events;
    int    stop_after;    /* return 1 from the callback on this event */
} sse_record_t;

/* A stream with every feature: comments, CRLF, CR, LF, names, ids. */
static const char sse_stream[] =
    ": keep-alive\r\n"
    "event: message_start\r\n"
    "data: {\"a\":1}\r\n"
    "\r\n"
    "data: line one\n"
    "data: line two\n"
    "data\n"
    "\n"
    "id: 7\rretry: 100\rdata:nospace\r\r"
    "event: error\n"
    ": a comment between fields\n"
    "data:  two spaces\n"
    "\n"
    "event: orphan\n"
    "\n"
    "data: [DONE]\n"
    "\n";

static const char sse_expected[] =
    "[message_start]{\"a\":1}|"
    "[]line one\nline two\n|"
    "[]nospace|"
    "[error] two spaces|"
    "[][DONE]|";

static int
sse_record(const fg_sse_event_t *ev, void *arg)
{
    sse_record_t *r = arg;
    size_t        need = ev->event_len + ev->data_len + 3;

    if (r->len + need < SSE_LOG_MAX) {
        r->log[r->len++] = '[';
        memcpy(r->log + r->len, ev->event, ev->event_len);
        r->len += ev->event_len;
        r->log[r->len++] = ']';
        memcpy(r->log + r->len, ev->data, ev->data_len);
        r->len += ev->data_len;
        r->log[r->len++] = '|';
        r->log[r->len] = '\0';
    }
    r->events++;
    return r->stop_after != 0 && r->events == r->stop_after;
}

static void
sse_record_init(sse_record_t *r)
{
    memset(r, 0, sizeof(*r));
}

/* Feeds @s whole and returns the last feed's result. */
static int
sse_feed_all(fg_sse_parser_t *p, const char *s, size_t len,
             sse_record_t *r, fg_err_t *err)
{
    return fg_sse_parser_feed(p, s, len, sse_record, r, err);
}

static void
sse_parser_dispatches_event_on_blank_line(void)
{
    fg_sse_parser_t p;
    sse_record_t    r;

    sse_record_init(&r);
    fg_sse_parser_init(&p, 0);
    expect_int_eq(sse_feed_all(&p, "data: x\n", 8, &r, NULL), FG_OK);
    expect_int_eq(r.events, 0);
    expect_int_eq(sse_feed_all(&p, "\n", 1, &r, NULL), FG_OK);
    expect_int_eq(r.events, 1);
    expect_str_eq(r.log, "[]x|");
    fg_sse_parser_cleanup(&p);
}

static void
sse_parser_joins_data_lines_with_newline(void)
{
    fg_sse_parser_t p;
    sse_record_t    r;
    const char     *s = "data: a\ndata: b\ndata: c\n\n";

    sse_record_init(&r);
    fg_sse_parser_init(&p, 0);
    expect_int_eq(sse_feed_all(&p, s, strlen(s), &r, NULL), FG_OK);
    expect_str_eq(r.log, "[]a\nb\nc|");
    fg_sse_parser_cleanup(&p);
}

static void
sse_parser_reports_event_name(void)
{
    fg_sse_parser_t p;
    sse_record_t    r;
    const char     *s = "event: content_block_delta\ndata: {}\n\n"
                        "data: next\n\n";

    sse_record_init(&r);
    fg_sse_parser_init(&p, 0);
    expect_int_eq(sse_feed_all(&p, s, strlen(s), &r, NULL), FG_OK);
    /* The name belongs to one event only. */
    expect_str_eq(r.log, "[content_block_delta]{}|[]next|");
    fg_sse_parser_cleanup(&p);
}

static void
sse_parser_ignores_comments(void)
{
    fg_sse_parser_t p;
    sse_record_t    r;
    const char     *s = ": ping\n:\ndata: x\n: inside\n\n: after\n\n";

    sse_record_init(&r);
    fg_sse_parser_init(&p, 0);
    expect_int_eq(sse_feed_all(&p, s, strlen(s), &r, NULL), FG_OK);
    expect_str_eq(r.log, "[]x|");
    fg_sse_parser_cleanup(&p);
}

static void
sse_parser_accepts_crlf_line_endings(void)
{
    fg_sse_parser_t p;
    sse_record_t    r;
    const char     *s = "event: e\r\ndata: a\r\ndata: b\r\n\r\n";

    sse_record_init(&r);
    fg_sse_parser_init(&p, 0);
    expect_int_eq(sse_feed_all(&p, s, strlen(s), &r, NULL), FG_OK);
    expect_str_eq(r.log, "[e]a\nb|");
    fg_sse_parser_cleanup(&p);
}

static void
sse_parser_accepts_lone_cr_line_endings(void)
{
    fg_sse_parser_t p;
    sse_record_t    r;
    const char     *s = "data: a\rdata: b\r\r";

    sse_record_init(&r);
    fg_sse_parser_init(&p, 0);
    expect_int_eq(sse_feed_all(&p, s, strlen(s), &r, NULL), FG_OK);
    expect_str_eq(r.log, "[]a\nb|");
    fg_sse_parser_cleanup(&p);
}

static void
sse_parser_joins_cr_and_lf_split_across_reads(void)
{
    fg_sse_parser_t p;
    sse_record_t    r;

    sse_record_init(&r);
    fg_sse_parser_init(&p, 0);
    expect_int_eq(sse_feed_all(&p, "data: a\r", 8, &r, NULL), FG_OK);
    expect_int_eq(sse_feed_all(&p, "\n", 1, &r, NULL), FG_OK);
    /* Had the LF counted as a second line ending, this would dispatch. */
    expect_int_eq(r.events, 0);
    expect_int_eq(sse_feed_all(&p, "\r", 1, &r, NULL), FG_OK);
    expect_int_eq(sse_feed_all(&p, "\n", 1, &r, NULL), FG_OK);
    expect_int_eq(r.events, 1);
    expect_str_eq(r.log, "[]a|");
    fg_sse_parser_cleanup(&p);
}

static void
sse_parser_joins_event_split_across_reads(void)
{
    fg_sse_parser_t p;
    sse_record_t    r;

    sse_record_init(&r);
    fg_sse_parser_init(&p, 0);
    expect_int_eq(sse_feed_all(&p, "ev", 2, &r, NULL), FG_OK);
    expect_int_eq(sse_feed_all(&p, "ent: x\nda", 9, &r, NULL), FG_OK);
    expect_int_eq(sse_feed_all(&p, "ta: hel", 7, &r, NULL), FG_OK);
    expect_int_eq(sse_feed_all(&p, "lo\n", 3, &r, NULL), FG_OK);
    expect_int_eq(sse_feed_all(&p, "\n", 1, &r, NULL), FG_OK);
    expect_str_eq(r.log, "[x]hello|");
    fg_sse_parser_cleanup(&p);
}

static void
sse_parser_gives_same_events_fed_whole(void)
{
    fg_sse_parser_t p;
    sse_record_t    r;

    sse_record_init(&r);
    fg_sse_parser_init(&p, 0);
    expect_int_eq(sse_feed_all(&p, sse_stream, sizeof(sse_stream) - 1, &r,
                               NULL), FG_OK);
    expect_str_eq(r.log, sse_expected);
    fg_sse_parser_cleanup(&p);
}

static void
sse_parser_gives_same_events_fed_byte_by_byte(void)
{
    fg_sse_parser_t p;
    sse_record_t    r;
    size_t          i;

    sse_record_init(&r);
    fg_sse_parser_init(&p, 0);
    for (i = 0; i < sizeof(sse_stream) - 1; i++) {
        expect_int_eq(sse_feed_all(&p, sse_stream + i, 1, &r, NULL), FG_OK);
    }
    expect_str_eq(r.log, sse_expected);
    fg_sse_parser_cleanup(&p);
}

static void
sse_parser_gives_same_events_for_every_two_part_split(void)
{
    fg_sse_parser_t p;
    sse_record_t    r;
    size_t          i, n = sizeof(sse_stream) - 1;

    for (i = 0; i <= n; i++) {
        sse_record_init(&r);
        fg_sse_parser_init(&p, 0);
        expect_int_eq(sse_feed_all(&p, sse_stream, i, &r, NULL), FG_OK);
        expect_int_eq(sse_feed_all(&p, sse_stream + i, n - i, &r, NULL),
                      FG_OK);
        if (strcmp(r.log, sse_expected) != 0) {
            FG_TEST_FAIL("split at %zu: got \"%s\"", i, r.log);
        }
        fg_sse_parser_cleanup(&p);
    }
}

static void
sse_parser_gives_same_events_for_every_three_part_split(void)
{
    fg_sse_parser_t p;
    sse_record_t    r;
    size_t          i, j, n = sizeof(sse_stream) - 1;

    fg_sse_parser_init(&p, 0);
    for (i = 0; i <= n; i++) {
        for (j = i; j <= n; j++) {
            sse_record_init(&r);
            sse_feed_all(&p, sse_stream, i, &r, NULL);
            sse_feed_all(&p, sse_stream + i, j - i, &r, NULL);
            sse_feed_all(&p, sse_stream + j, n - j, &r, NULL);
            /* finish() empties the parser for the next stream. */
            expect_int_eq(fg_sse_parser_finish(&p, sse_record, &r, NULL),
                          FG_OK);
            if (strcmp(r.log, sse_expected) != 0) {
                FG_TEST_FAIL("split at %zu, %zu: got \"%s\"", i, j, r.log);
            }
        }
    }
    fg_sse_parser_cleanup(&p);
}

static void
sse_parser_drops_one_space_after_the_colon_only(void)
{
    fg_sse_parser_t p;
    sse_record_t    r;
    const char     *s = "data:a\n\ndata: b\n\ndata:  c\n\n";

    sse_record_init(&r);
    fg_sse_parser_init(&p, 0);
    expect_int_eq(sse_feed_all(&p, s, strlen(s), &r, NULL), FG_OK);
    expect_str_eq(r.log, "[]a|[]b|[] c|");
    fg_sse_parser_cleanup(&p);
}

static void
sse_parser_keeps_colons_inside_the_value(void)
{
    fg_sse_parser_t p;
    sse_record_t    r;
    const char     *s = "data: {\"a\":\"b:c\"}\n\n";

    sse_record_init(&r);
    fg_sse_parser_init(&p, 0);
    expect_int_eq(sse_feed_all(&p, s, strlen(s), &r, NULL), FG_OK);
    expect_str_eq(r.log, "[]{\"a\":\"b:c\"}|");
    fg_sse_parser_cleanup(&p);
}

static void
sse_parser_dispatches_empty_data_line(void)
{
    fg_sse_parser_t p;
    sse_record_t    r;
    const char     *s = "data\n\ndata:\n\n";

    sse_record_init(&r);
    fg_sse_parser_init(&p, 0);
    expect_int_eq(sse_feed_all(&p, s, strlen(s), &r, NULL), FG_OK);
    expect_int_eq(r.events, 2);
    expect_str_eq(r.log, "[]|[]|");
    fg_sse_parser_cleanup(&p);
}

static void
sse_parser_drops_event_without_data(void)
{
    fg_sse_parser_t p;
    sse_record_t    r;
    const char     *s = "event: ping\n\n\n\ndata: x\n\n";

    sse_record_init(&r);
    fg_sse_parser_init(&p, 0);
    expect_int_eq(sse_feed_all(&p, s, strlen(s), &r, NULL), FG_OK);
    expect_str_eq(r.log, "[]x|");
    fg_sse_parser_cleanup(&p);
}

static void
sse_parser_ignores_id_retry_and_unknown_fields(void)
{
    fg_sse_parser_t p;
    sse_record_t    r;
    const char     *s = "id: 1\nretry: 5\nfoo: bar\ndatum: no\nDATA: no\n"
                        "data: yes\n\n";

    sse_record_init(&r);
    fg_sse_parser_init(&p, 0);
    expect_int_eq(sse_feed_all(&p, s, strlen(s), &r, NULL), FG_OK);
    expect_str_eq(r.log, "[]yes|");
    fg_sse_parser_cleanup(&p);
}

static void
sse_parser_terminates_data_with_nul(void)
{
    fg_sse_parser_t p;
    sse_record_t    r;
    const char     *s = "data: [DONE]\n\n";

    sse_record_init(&r);
    fg_sse_parser_init(&p, 0);
    expect_int_eq(sse_feed_all(&p, s, strlen(s), &r, NULL), FG_OK);
    expect_int_eq(p.data.cap > 6, 1);
    expect_int_eq(p.data.p[6], '\0');
    expect_int_eq(p.event.p[0], '\0');
    fg_sse_parser_cleanup(&p);
}

static void
sse_parser_passes_nul_bytes_in_data(void)
{
    fg_sse_parser_t p;
    sse_record_t    r;
    const char      s[] = "data: a\0b\n\n";

    sse_record_init(&r);
    fg_sse_parser_init(&p, 0);
    expect_int_eq(sse_feed_all(&p, s, sizeof(s) - 1, &r, NULL), FG_OK);
    expect_int_eq(r.len, 6);
    expect_int_eq(memcmp(r.log, "[]a\0b|", 6), 0);
    fg_sse_parser_cleanup(&p);
}

static void
sse_parser_accepts_line_exactly_at_the_limit(void)
{
    fg_sse_parser_t p;
    sse_record_t    r;
    fg_err_t        err;

    /* "data: " plus 10 bytes is a 16-byte line. */
    sse_record_init(&r);
    fg_sse_parser_init(&p, 16);
    expect_int_eq(sse_feed_all(&p, "data: 0123456789\n\n", 18, &r, &err),
                  FG_OK);
    expect_str_eq(r.log, "[]0123456789|");
    fg_sse_parser_cleanup(&p);
}

static void
sse_parser_rejects_line_over_the_limit(void)
{
    fg_sse_parser_t p;
    sse_record_t    r;
    fg_err_t        err;

    sse_record_init(&r);
    memset(&err, 0, sizeof(err));
    fg_sse_parser_init(&p, 16);
    expect_int_eq(sse_feed_all(&p, "data: 0123456789a\n\n", 19, &r, &err),
                  FG_ERR);
    expect_int_eq(err.code, FG_E_PROVIDER_ERROR);
    expect_int_eq(r.events, 0);
    fg_sse_parser_cleanup(&p);
}

static void
sse_parser_rejects_open_line_over_the_limit_across_reads(void)
{
    fg_sse_parser_t p;
    sse_record_t    r;
    fg_err_t        err;
    char            chunk[1024];
    size_t          i;
    int             rc = FG_OK;

    sse_record_init(&r);
    memset(&err, 0, sizeof(err));
    memset(chunk, 'x', sizeof(chunk));
    fg_sse_parser_init(&p, 0);
    expect_int_eq(sse_feed_all(&p, "data: ", 6, &r, &err), FG_OK);
    /* 1 MiB of one line with no ending: refused, buffer stays bounded. */
    for (i = 0; i < 1100 && rc == FG_OK; i++) {
        rc = sse_feed_all(&p, chunk, sizeof(chunk), &r, &err);
    }
    expect_int_eq(rc, FG_ERR);
    expect_int_eq(err.code, FG_E_PROVIDER_ERROR);
    expect_true(p.line.cap <= FG_SSE_MAX_BYTES_DEFAULT + 1);
    fg_sse_parser_cleanup(&p);
}

static void
sse_parser_rejects_event_over_the_limit(void)
{
    fg_sse_parser_t p;
    sse_record_t    r;
    fg_err_t        err;
    const char     *s = "data: 0123456789\ndata: 0123456789\n\n";

    /* Each line fits in 16 bytes, the joined 21 bytes do not. */
    sse_record_init(&r);
    memset(&err, 0, sizeof(err));
    fg_sse_parser_init(&p, 16);
    expect_int_eq(sse_feed_all(&p, s, strlen(s), &r, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_PROVIDER_ERROR);
    expect_int_eq(r.events, 0);
    fg_sse_parser_cleanup(&p);
}

static void
sse_parser_stays_failed_after_an_error(void)
{
    fg_sse_parser_t p;
    sse_record_t    r;
    fg_err_t        err;

    sse_record_init(&r);
    fg_sse_parser_init(&p, 4);
    expect_int_eq(sse_feed_all(&p, "data: long\n\n", 12, &r, &err), FG_ERR);
    expect_int_eq(sse_feed_all(&p, "data\n\n", 6, &r, &err), FG_ERR);
    expect_int_eq(fg_sse_parser_finish(&p, sse_record, &r, &err), FG_ERR);
    expect_int_eq(r.events, 0);
    fg_sse_parser_cleanup(&p);
}

static void
sse_parser_stops_when_callback_returns_nonzero(void)
{
    fg_sse_parser_t p;
    sse_record_t    r;
    const char     *s = "data: a\n\ndata: b\n\ndata: c\n\n";

    sse_record_init(&r);
    r.stop_after = 1;
    fg_sse_parser_init(&p, 0);
    expect_int_eq(sse_feed_all(&p, s, strlen(s), &r, NULL), 1);
    expect_str_eq(r.log, "[]a|");
    /* Usable again, as if the rest had never arrived. */
    r.stop_after = 0;
    expect_int_eq(sse_feed_all(&p, "data: d\n\n", 9, &r, NULL), FG_OK);
    expect_str_eq(r.log, "[]a|[]d|");
    fg_sse_parser_cleanup(&p);
}

static void
sse_parser_finish_dispatches_unterminated_last_event(void)
{
    fg_sse_parser_t p;
    sse_record_t    r;

    sse_record_init(&r);
    fg_sse_parser_init(&p, 0);
    expect_int_eq(sse_feed_all(&p, "data: a\ndata: b", 15, &r, NULL), FG_OK);
    expect_int_eq(r.events, 0);
    expect_int_eq(fg_sse_parser_finish(&p, sse_record, &r, NULL), FG_OK);
    expect_str_eq(r.log, "[]a\nb|");
    /* Nothing is left for a second finish. */
    expect_int_eq(fg_sse_parser_finish(&p, sse_record, &r, NULL), FG_OK);
    expect_int_eq(r.events, 1);
    fg_sse_parser_cleanup(&p);
}

static void
sse_parser_reuses_its_buffers_across_events(void)
{
    fg_sse_parser_t p;
    sse_record_t    r;
    const char     *s = "event: delta\ndata: {\"choices\":[]}\n\n";
    char           *data_p, *event_p;
    int             i;

    sse_record_init(&r);
    fg_sse_parser_init(&p, 0);
    expect_int_eq(sse_feed_all(&p, s, strlen(s), &r, NULL), FG_OK);
    data_p = p.data.p;
    event_p = p.event.p;
    for (i = 0; i < 1000; i++) {
        r.len = 0;
        expect_int_eq(sse_feed_all(&p, s, strlen(s), &r, NULL), FG_OK);
    }
    expect_true(p.data.p == data_p);
    expect_true(p.event.p == event_p);
    expect_true(p.line.p == NULL);
    expect_int_eq(r.events, 1001);
    fg_sse_parser_cleanup(&p);
}

static void
sse_parser_cleanup_accepts_null(void)
{
    fg_sse_parser_cleanup(NULL);
    expect_true(1);
}

FG_TEST_MAIN("sse",
    FG_TEST_CASE(sse_parser_dispatches_event_on_blank_line),
    FG_TEST_CASE(sse_parser_joins_data_lines_with_newline),
    FG_TEST_CASE(sse_parser_reports_event_name),
    FG_TEST_CASE(sse_parser_ignores_comments),
    FG_TEST_CASE(sse_parser_accepts_crlf_line_endings),
    FG_TEST_CASE(sse_parser_accepts_lone_cr_line_endings),
    FG_TEST_CASE(sse_parser_joins_cr_and_lf_split_across_reads),
    FG_TEST_CASE(sse_parser_joins_event_split_across_reads),
    FG_TEST_CASE(sse_parser_gives_same_events_fed_whole),
    FG_TEST_CASE(sse_parser_gives_same_events_fed_byte_by_byte),
    FG_TEST_CASE(sse_parser_gives_same_events_for_every_two_part_split),
    FG_TEST_CASE(sse_parser_gives_same_events_for_every_three_part_split),
    FG_TEST_CASE(sse_parser_drops_one_space_after_the_colon_only),
    FG_TEST_CASE(sse_parser_keeps_colons_inside_the_value),
    FG_TEST_CASE(sse_parser_dispatches_empty_data_line),
    FG_TEST_CASE(sse_parser_drops_event_without_data),
    FG_TEST_CASE(sse_parser_ignores_id_retry_and_unknown_fields),
    FG_TEST_CASE(sse_parser_terminates_data_with_nul),
    FG_TEST_CASE(sse_parser_passes_nul_bytes_in_data),
    FG_TEST_CASE(sse_parser_accepts_line_exactly_at_the_limit),
    FG_TEST_CASE(sse_parser_rejects_line_over_the_limit),
    FG_TEST_CASE(sse_parser_rejects_open_line_over_the_limit_across_reads),
    FG_TEST_CASE(sse_parser_rejects_event_over_the_limit),
    FG_TEST_CASE(sse_parser_stays_failed_after_an_error),
    FG_TEST_CASE(sse_parser_stops_when_callback_returns_nonzero),
    FG_TEST_CASE(sse_parser_finish_dispatches_unterminated_last_event),
    FG_TEST_CASE(sse_parser_reuses_its_buffers_across_events),
    FG_TEST_CASE(sse_parser_cleanup_accepts_null))
