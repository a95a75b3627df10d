/*
 * test_frame.c: the framing the two logs share (common/store/frame.h).
 * The scan through a toy format (a record may straddle the read-ahead
 * chunk; a check may ask for more), the torn-tail rule (an invalid end is
 * a tail, cut by fg_frame_cut; an invalid record before a valid one is
 * refused, the file untouched), a callback that stops the scan; and the
 * store's journal written and read by the code of before the sharing
 * (tests/fixtures/store.journal and store.snapshot), byte for byte.
 *
 * Files live in one mkdtemp(3) directory under /tmp, removed at the end.
 */

#include "common/store/frame.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/store/journal.h"
#include "tests/unit/fg_test.h"

static char test_dir[64];

/* ---- a toy format: 'R', a length byte, the payload, its CRC (LE) ------- */

#define TOY_MAX  (2 + 255 + 4)

static fg_frame_verdict_t
toy_check(const uint8_t *p, size_t avail, int is_eof, size_t *len,
          void *arg)
{
    size_t   n;
    uint32_t crc;

    (void) arg;
    *len = 1;
    if (avail < 2) {
        *len = 2;
        return is_eof ? FG_FRAME_INVALID : FG_FRAME_MORE;
    }
    if (p[0] != 'R') {
        return FG_FRAME_INVALID;
    }
    n = 2 + (size_t) p[1] + 4;
    if (avail < n) {
        if (is_eof) {
            *len = 1;
            return FG_FRAME_INVALID;
        }
        *len = n;
        return FG_FRAME_MORE;
    }
    crc = (uint32_t) p[n - 4] | (uint32_t) p[n - 3] << 8
          | (uint32_t) p[n - 2] << 16 | (uint32_t) p[n - 1] << 24;
    if (fg_frame_crc32c(0, p + 2, p[1]) != crc) {
        return FG_FRAME_INVALID;
    }
    *len = n;
    return FG_FRAME_VALID;
}

static const fg_frame_format_t toy = { "record", TOY_MAX, toy_check };

/* Appends a toy record of @n bytes of @c to @buf at *@at. */
static void
toy_put(uint8_t *buf, size_t *at, uint8_t c, uint8_t n)
{
    uint8_t *p = buf + *at;
    uint32_t crc;

    p[0] = 'R';
    p[1] = n;
    memset(p + 2, c, n);
    crc = fg_frame_crc32c(0, p + 2, n);
    p[2 + n] = (uint8_t) crc;
    p[3 + n] = (uint8_t) (crc >> 8);
    p[4 + n] = (uint8_t) (crc >> 16);
    p[5 + n] = (uint8_t) (crc >> 24);
    *at += 6 + (size_t) n;
}

typedef struct {
    size_t   n;
    uint64_t last_offset;
    size_t   last_len;
    uint8_t  last_byte;
    size_t   stop_at;        /* 0: never */
} seen_t;

static int
seen_cb(const uint8_t *rec, size_t len, uint64_t offset, void *arg,
        fg_err_t *err)
{
    seen_t *s = arg;

    s->n++;
    s->last_offset = offset;
    s->last_len = len;
    s->last_byte = len > 2 ? rec[2] : 0;
    if (s->stop_at != 0 && s->n == s->stop_at) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "stop here");
    }
    return FG_OK;
}

static const char *
put_file(const char *name, const void *buf, size_t len)
{
    static char path[128];
    int         fd;

    snprintf(path, sizeof(path), "%s/%s", test_dir, name);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, buf, len) != (ssize_t) len) {
        FG_TEST_FAIL("cannot write %s", path);
    }
    if (fd >= 0) {
        close(fd);
    }
    return path;
}

static int
scan_file(const char *path, seen_t *seen, fg_frame_scan_t *st, fg_err_t *err)
{
    int fd = open(path, O_RDWR);
    int rc;

    rc = fg_frame_scan(fd, path, &toy, seen_cb, seen, st, err);
    close(fd);
    return rc;
}

static long
size_of(const char *path)
{
    struct stat sb;

    return stat(path, &sb) == 0 ? (long) sb.st_size : -1;
}

/* Reads a whole file into a malloc'd buffer. */
static uint8_t *
slurp(const char *path, size_t *len)
{
    FILE    *f = fopen(path, "rb");
    uint8_t *buf;
    long     n;

    *len = 0;
    if (f == NULL) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t) n + 1);
    if (buf == NULL || fread(buf, 1, (size_t) n, f) != (size_t) n) {
        n = 0;
    }
    fclose(f);
    *len = (size_t) n;
    return buf;
}

static const char *
fixture(const char *name)
{
    static char path[512];
    const char *root = getenv("FG_SRC_DIR");

    snprintf(path, sizeof(path), "%s%stests/fixtures/%s", root ? root : "",
             root ? "/" : "", name);
    return path;
}

/* ---- tests ------------------------------------------------------------ */

/* The instruction's CRC (where the processor has it) and the table's
 * agree at every length and alignment, chained or not. */
static void
crc32c_by_instruction_equals_the_table(void)
{
    unsigned char buf[300];
    size_t        i, off, len;
    uint32_t      seed = 12345;

    for (i = 0; i < sizeof(buf); i++) {
        seed = seed * 1103515245u + 12345u;
        buf[i] = (unsigned char) (seed >> 16);
    }
    for (off = 0; off < 9; off++) {
        for (len = 0; len + off <= sizeof(buf); len += 7) {
            expect_int_eq(fg_frame_crc32c(0, buf + off, len),
                          fg_frame_crc32c_portable(0, buf + off, len));
            expect_int_eq(fg_frame_crc32c(0xdeadbeefu, buf + off, len),
                          fg_frame_crc32c_portable(0xdeadbeefu, buf + off,
                                                   len));
        }
    }
    expect_int_eq(fg_frame_crc32c_portable(0, "123456789", 9), 0xe3069283u);
}

static void
crc32c_is_castagnoli_and_chains(void)
{
    expect_int_eq(fg_frame_crc32c(0, "123456789", 9), 0xe3069283u);
    expect_int_eq(fg_frame_crc32c(fg_frame_crc32c(0, "1234", 4), "56789", 5),
                  0xe3069283u);
    expect_int_eq(fg_frame_crc32c(0, "", 0), 0);
}

static void
every_record_comes_in_order_across_read_chunks(void)
{
    static uint8_t  buf[400 * TOY_MAX];
    size_t          at = 0, i;
    seen_t          seen = { 0 };
    fg_frame_scan_t st;
    fg_err_t        err;
    const char     *path;

    /* 400 records of 261 bytes: about 100 KiB, so records straddle the
     * 64 KiB read-ahead and the check asks for more. */
    for (i = 0; i < 400; i++) {
        toy_put(buf, &at, (uint8_t) i, 255);
    }
    path = put_file("chunks.log", buf, at);
    expect_int_eq(scan_file(path, &seen, &st, &err), FG_OK);
    expect_int_eq(seen.n, 400);
    expect_int_eq(st.records, 400);
    expect_int_eq(seen.last_offset, at - TOY_MAX);
    expect_int_eq(seen.last_byte, 399 & 0xff);
    expect_int_eq(st.valid_bytes, at);
    expect_int_eq(st.has_torn_tail, 0);
}

static void
an_invalid_end_is_a_torn_tail_that_cut_removes(void)
{
    uint8_t         buf[4 * TOY_MAX];
    size_t          at = 0, whole, cut_at;
    seen_t          seen = { 0 };
    fg_frame_scan_t st;
    fg_err_t        err;
    const char     *path;
    int             fd;

    toy_put(buf, &at, 'a', 10);
    toy_put(buf, &at, 'b', 20);
    whole = at;
    toy_put(buf, &at, 'c', 30);
    /* Every cut inside the last record, and zeros after a whole file. */
    for (cut_at = whole + 1; cut_at < at; cut_at++) {
        memset(&seen, 0, sizeof(seen));
        path = put_file("torn.log", buf, cut_at);
        expect_int_eq(scan_file(path, &seen, &st, &err), FG_OK);
        expect_int_eq(seen.n, 2);
        expect_int_eq(st.has_torn_tail, 1);
        expect_int_eq(st.dropped_offset, whole);
        expect_int_eq(st.dropped_bytes, cut_at - whole);
        expect_int_eq(st.valid_bytes, whole);
    }
    memset(buf + at, 0, 100);
    path = put_file("zeros.log", buf, at + 100);
    expect_int_eq(scan_file(path, &seen, &st, &err), FG_OK);
    expect_int_eq(st.dropped_offset, at);
    expect_int_eq(st.dropped_bytes, 100);

    fd = open(path, O_RDWR);
    expect_int_eq(fg_frame_cut(fd, path, &st, &err), FG_OK);
    close(fd);
    expect_int_eq(size_of(path), (long) at);
    memset(&seen, 0, sizeof(seen));
    expect_int_eq(scan_file(path, &seen, &st, &err), FG_OK);
    expect_int_eq(seen.n, 3);
    expect_int_eq(st.has_torn_tail, 0);
    /* Nothing to cut: nothing changes. */
    fd = open(path, O_RDWR);
    expect_int_eq(fg_frame_cut(fd, path, &st, &err), FG_OK);
    close(fd);
    expect_int_eq(size_of(path), (long) at);
}

static void
an_invalid_record_before_a_valid_one_is_refused(void)
{
    uint8_t         buf[4 * TOY_MAX];
    size_t          at = 0, second;
    seen_t          seen = { 0 };
    fg_frame_scan_t st;
    fg_err_t        err;
    const char     *path;

    toy_put(buf, &at, 'a', 10);
    second = at;
    toy_put(buf, &at, 'b', 20);
    toy_put(buf, &at, 'c', 30);
    buf[second + 5] ^= 0x01;          /* a payload byte: the CRC fails */
    path = put_file("damaged.log", buf, at);
    expect_int_eq(scan_file(path, &seen, &st, &err), FG_ERR);
    expect_true(strstr(err.msg, "damaged") != NULL);
    expect_true(strstr(err.msg, "refusing to guess") != NULL);
    expect_int_eq(seen.n, 1);
    expect_int_eq(size_of(path), (long) at);
}

static void
a_callback_error_stops_the_scan_with_it(void)
{
    uint8_t         buf[4 * TOY_MAX];
    size_t          at = 0;
    seen_t          seen = { 0 };
    fg_frame_scan_t st;
    fg_err_t        err;
    const char     *path;

    toy_put(buf, &at, 'a', 1);
    toy_put(buf, &at, 'b', 2);
    toy_put(buf, &at, 'c', 3);
    seen.stop_at = 2;
    path = put_file("stop.log", buf, at);
    expect_int_eq(scan_file(path, &seen, &st, &err), FG_ERR);
    expect_str_eq(err.msg, "stop here");
    expect_int_eq(seen.n, 2);
}

static void
an_empty_file_has_no_record_and_no_tail(void)
{
    seen_t          seen = { 0 };
    fg_frame_scan_t st;
    fg_err_t        err;

    expect_int_eq(scan_file(put_file("empty.log", "", 0), &seen, &st, &err),
                  FG_OK);
    expect_int_eq(seen.n, 0);
    expect_int_eq(st.valid_bytes, 0);
    expect_int_eq(st.has_torn_tail, 0);
}

/* ---- the store's journal, as the code before the sharing wrote it ----- */

typedef struct {
    size_t   n;
    uint32_t type[4];
    uint64_t seq[4];
    int64_t  time_ms[4];
    char     payload[4][64];
} entries_t;

static int
entries_cb(const fg_journal_entry_t *e, void *arg, fg_err_t *err)
{
    entries_t *x = arg;

    (void) err;
    if (x->n < 4) {
        x->type[x->n] = e->type;
        x->seq[x->n] = e->seq;
        x->time_ms[x->n] = e->time_ms;
        snprintf(x->payload[x->n], sizeof(x->payload[0]), "%.*s",
                 (int) e->len, (const char *) e->payload);
    }
    x->n++;
    return FG_OK;
}

static void
the_old_store_journal_reads_and_writes_byte_for_byte(void)
{
    char              path[128];
    uint8_t          *want, *got;
    size_t            want_len, got_len;
    entries_t         x;
    fg_replay_stats_t st;
    fg_journal_t      j;
    fg_err_t          err;

    want = slurp(fixture("store.journal"), &want_len);
    expect_true(want != NULL && want_len == 136);
    snprintf(path, sizeof(path), "%s/store.journal", test_dir);
    put_file("store.journal", want, want_len);
    memset(&x, 0, sizeof(x));
    expect_int_eq(fg_journal_replay(path, entries_cb, &x, &st, &err), FG_OK);
    expect_int_eq(x.n, 3);
    expect_int_eq(st.last_seq, 3);
    expect_int_eq(st.has_torn_tail, 0);
    expect_int_eq(x.type[1], 2);
    expect_int_eq(x.time_ms[2], 1767225600002LL);
    expect_str_eq(x.payload[0], "{\"op\":\"create\"}");
    expect_str_eq(x.payload[2], "{\"op\":\"topup\",\"micro\":5}");

    /* The same appends by this build give the same bytes. */
    unlink(path);
    expect_int_eq(fg_journal_open(path, &j, &err), FG_OK);
    expect_int_eq(fg_journal_append(&j, 1, "{\"op\":\"create\"}", 15,
                                    1767225600000LL, &err), FG_OK);
    expect_int_eq(fg_journal_append(&j, 2, "", 0, 1767225600001LL, &err),
                  FG_OK);
    expect_int_eq(fg_journal_append(&j, 1, "{\"op\":\"topup\",\"micro\":5}",
                                    25, 1767225600002LL, &err), FG_OK);
    fg_journal_close(&j);
    got = slurp(path, &got_len);
    expect_int_eq(got_len, want_len);
    expect_true(got != NULL && memcmp(got, want, want_len) == 0);
    free(want);
    free(got);
}

static void
the_old_store_snapshot_reads_and_writes_byte_for_byte(void)
{
    char               path[128];
    uint8_t           *want, *got;
    size_t             want_len, got_len;
    entries_t          x;
    uint64_t           covered;
    fg_journal_entry_t e[2];
    fg_err_t           err;

    want = slurp(fixture("store.snapshot"), &want_len);
    expect_true(want != NULL && want_len > 0);
    snprintf(path, sizeof(path), "%s/store.snapshot", test_dir);
    put_file("store.snapshot", want, want_len);
    memset(&x, 0, sizeof(x));
    expect_int_eq(fg_journal_snapshot_read(path, entries_cb, &x, &covered,
                                           &err), FG_OK);
    expect_int_eq(covered, 3);
    expect_int_eq(x.n, 2);
    expect_str_eq(x.payload[1], "{\"k\":2}");
    expect_int_eq(x.type[1], 3);

    memset(e, 0, sizeof(e));
    e[0].type = 1;
    e[0].payload = "{\"k\":1}";
    e[0].len = 7;
    e[1].type = 3;
    e[1].payload = "{\"k\":2}";
    e[1].len = 7;
    unlink(path);
    expect_int_eq(fg_journal_snapshot_write(path, e, 2, 3, 1767225600003LL,
                                            &err), FG_OK);
    got = slurp(path, &got_len);
    expect_int_eq(got_len, want_len);
    expect_true(got != NULL && memcmp(got, want, want_len) == 0);
    free(want);
    free(got);
}

static void
cleanup(void)
{
    static const char *names[] = {
        "chunks.log", "torn.log", "zeros.log", "damaged.log", "stop.log",
        "empty.log", "store.journal", "store.snapshot", "store.snapshot.tmp"
    };
    char   path[128];
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", test_dir, names[i]);
        unlink(path);
    }
    rmdir(test_dir);
}

int
main(void)
{
    static const fg_test_case_t cases[] = {
        FG_TEST_CASE(crc32c_is_castagnoli_and_chains),
        FG_TEST_CASE(crc32c_by_instruction_equals_the_table),
        FG_TEST_CASE(every_record_comes_in_order_across_read_chunks),
        FG_TEST_CASE(an_invalid_end_is_a_torn_tail_that_cut_removes),
        FG_TEST_CASE(an_invalid_record_before_a_valid_one_is_refused),
        FG_TEST_CASE(a_callback_error_stops_the_scan_with_it),
        FG_TEST_CASE(an_empty_file_has_no_record_and_no_tail),
        FG_TEST_CASE(the_old_store_journal_reads_and_writes_byte_for_byte),
        FG_TEST_CASE(the_old_store_snapshot_reads_and_writes_byte_for_byte),
    };
    int rc;

    snprintf(test_dir, sizeof(test_dir), "/tmp/fg-frame-XXXXXX");
    if (mkdtemp(test_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    rc = fg_test_run("frame", cases, sizeof(cases) / sizeof(cases[0]));
    cleanup();
    return rc;
}
