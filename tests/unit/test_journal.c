/*
 * test_journal.c: the append-only journal and its snapshots
 * (common/store/journal.h). CRC-32C against published vectors and a bitwise
 * reference; the record layout byte by byte; append, sync, replay and
 * reopen; the torn-tail rule at every truncation offset and every
 * corrupt byte of the last record, and its limit (damage followed by a
 * valid record is refused, the file left as it was); a write cut short
 * by RLIMIT_FSIZE making the journal fail for good; rotation; snapshots
 * written, replaced, aborted, and read strictly.
 *
 * Files live in one mkdtemp(3) directory under /tmp, removed at the end.
 * Crafted files are framed by the test's own encoder (frame()) with its
 * own bitwise CRC, from the layout the header documents.
 */

#include "common/store/journal.h"
#include "common/store/frame.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/fg_test.h"

#define SEEN_MAX      64
#define PAYLOAD_COPY  128

static char test_dir[64];

/* ---- helpers ---------------------------------------------------------- */

/* A fresh path in the test directory: nothing exists there yet. */
static const char *
fresh(char *buf, size_t size, const char *name)
{
    char tmp[160];

    snprintf(buf, size, "%s/%s", test_dir, name);
    unlink(buf);
    snprintf(tmp, sizeof(tmp), "%s.tmp", buf);
    unlink(tmp);
    return buf;
}

static int
exists(const char *path)
{
    struct stat sb;

    return stat(path, &sb) == 0;
}

static long
file_size(const char *path)
{
    struct stat sb;

    return stat(path, &sb) == 0 ? (long) sb.st_size : -1;
}

/* The whole file, malloc'd, its length in *@len; NULL when missing. */
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
        FG_TEST_FAIL("cannot read %s", path);
        n = 0;
    }
    fclose(f);
    *len = (size_t) n;
    return buf;
}

static void
spit(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");

    if (f == NULL || fwrite(buf, 1, len, f) != len) {
        FG_TEST_FAIL("cannot write %s", path);
    }
    if (f != NULL) {
        fclose(f);
    }
}

static void
spit_append(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "ab");

    if (f == NULL || fwrite(buf, 1, len, f) != len) {
        FG_TEST_FAIL("cannot append to %s", path);
    }
    if (f != NULL) {
        fclose(f);
    }
}

static int
same_file(const char *path, const uint8_t *want, size_t want_len)
{
    size_t   len;
    uint8_t *got = slurp(path, &len);
    int      same = got != NULL && len == want_len
                    && memcmp(got, want, len) == 0;

    free(got);
    return same;
}

static uint32_t
le32(const uint8_t *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
           | (uint32_t) p[3] << 24;
}

static uint64_t
le64(const uint8_t *p)
{
    return (uint64_t) le32(p) | (uint64_t) le32(p + 4) << 32;
}

static void
put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) v;
    p[1] = (uint8_t) (v >> 8);
    p[2] = (uint8_t) (v >> 16);
    p[3] = (uint8_t) (v >> 24);
}

static void
put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t) v);
    put32(p + 4, (uint32_t) (v >> 32));
}

/* CRC-32C one bit at a time, straight from the definition. */
static uint32_t
ref_crc32c(uint32_t crc, const void *p, size_t n)
{
    const uint8_t *b = p;
    int            k;

    crc = ~crc;
    while (n-- > 0) {
        crc ^= *b++;
        for (k = 0; k < 8; k++) {
            crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
        }
    }
    return ~crc;
}

/* One record framed as journal.h documents it, into @out; its size. */
static size_t
frame(uint8_t *out, uint32_t type, uint64_t seq, int64_t time_ms,
      const void *payload, uint32_t len)
{
    put32(out, FG_JOURNAL_MAGIC);
    put32(out + 8, len);
    put32(out + 12, type);
    put64(out + 16, seq);
    put64(out + 24, (uint64_t) time_ms);
    if (len > 0) {
        memcpy(out + FG_JOURNAL_HEADER_BYTES, payload, len);
    }
    put32(out + 4, ref_crc32c(0, out + 8, FG_JOURNAL_HEADER_BYTES - 8 + len));
    return FG_JOURNAL_HEADER_BYTES + len;
}

static size_t
frame_u64(uint8_t *out, uint32_t type, uint64_t seq, uint64_t value)
{
    uint8_t v[8];

    put64(v, value);
    return frame(out, type, seq, 0, v, sizeof(v));
}

/* What a replay or snapshot read handed to the callback. */
typedef struct {
    size_t   n;
    uint32_t type[SEEN_MAX];
    uint64_t seq[SEEN_MAX];
    int64_t  time_ms[SEEN_MAX];
    uint64_t offset[SEEN_MAX];
    size_t   len[SEEN_MAX];
    char     payload[SEEN_MAX][PAYLOAD_COPY];   /* first bytes, NUL added */
    size_t   fail_at;                           /* 0: never fail */
} seen_t;

static int
collect(const fg_journal_entry_t *e, void *arg, fg_err_t *err)
{
    seen_t *s = arg;
    size_t  copy = e->len < PAYLOAD_COPY - 1 ? e->len : PAYLOAD_COPY - 1;

    if (s->fail_at != 0 && s->n + 1 == s->fail_at) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "callback says stop");
    }
    if (s->n < SEEN_MAX) {
        s->type[s->n] = e->type;
        s->seq[s->n] = e->seq;
        s->time_ms[s->n] = e->time_ms;
        s->offset[s->n] = e->offset;
        s->len[s->n] = e->len;
        memcpy(s->payload[s->n], e->payload, copy);
        s->payload[s->n][copy] = '\0';
    }
    s->n++;
    return FG_OK;
}

static int
replay(const char *path, seen_t *seen, fg_replay_stats_t *st, fg_err_t *err)
{
    memset(seen, 0, sizeof(*seen));
    memset(st, 0xee, sizeof(*st));
    memset(err, 0, sizeof(*err));
    return fg_journal_replay(path, collect, seen, st, err);
}

static int
append_str(fg_journal_t *j, uint32_t type, const char *payload,
           int64_t now_ms)
{
    fg_err_t err;

    return fg_journal_append(j, type, payload, strlen(payload), now_ms, &err);
}

/*
 * A journal of three records, the last one 40 bytes of payload; its
 * bytes in *@bytes (malloc'd), the end of the second record in *@e2.
 */
static size_t
three_records(const char *path, uint8_t **bytes, size_t *e2)
{
    fg_journal_t j;
    fg_err_t     err;
    size_t       len;

    if (fg_journal_open(path, &j, &err) != FG_OK
        || append_str(&j, 1, "{\"first\":1}", 100) != FG_OK
        || append_str(&j, 2, "{\"second\":2}", 200) != FG_OK) {
        FG_TEST_FAIL("cannot build %s", path);
    }
    *e2 = (size_t) j.size_bytes;
    if (append_str(&j, 3, "{\"third\":\"abcdefghijklmnopqrstuvwxyz01\"}", 300)
        != FG_OK || fg_journal_sync(&j, &err) != FG_OK) {
        FG_TEST_FAIL("cannot build %s", path);
    }
    fg_journal_close(&j);
    *bytes = slurp(path, &len);
    return len;
}

/* ---- CRC-32C ------------------------------------------------------------ */

static void
crc32c_of_123456789_is_the_check_value(void)
{
    expect_int_eq(fg_frame_crc32c(0, "123456789", 9), 0xe3069283u);
}

/* RFC 3720 (iSCSI), B.4. */
static void
crc32c_matches_the_rfc3720_vectors(void)
{
    uint8_t b[32];
    int     i;

    memset(b, 0, sizeof(b));
    expect_int_eq(fg_frame_crc32c(0, b, 32), 0x8a9136aau);
    memset(b, 0xff, sizeof(b));
    expect_int_eq(fg_frame_crc32c(0, b, 32), 0x62a8ab43u);
    for (i = 0; i < 32; i++) {
        b[i] = (uint8_t) i;
    }
    expect_int_eq(fg_frame_crc32c(0, b, 32), 0x46dd794eu);
    for (i = 0; i < 32; i++) {
        b[i] = (uint8_t) (31 - i);
    }
    expect_int_eq(fg_frame_crc32c(0, b, 32), 0x113fdb5cu);
}

static void
crc32c_of_no_bytes_is_the_value_it_continues(void)
{
    expect_int_eq(fg_frame_crc32c(0, "", 0), 0);
    expect_int_eq(fg_frame_crc32c(0, NULL, 0), 0);
    expect_int_eq(fg_frame_crc32c(0xe3069283u, "x", 0), 0xe3069283u);
}

static void
crc32c_chains_across_every_split(void)
{
    const char *s = "123456789";
    uint8_t     b[1000];
    uint32_t    whole;
    size_t      i;

    for (i = 0; i <= 9; i++) {
        expect_int_eq(fg_frame_crc32c(fg_frame_crc32c(0, s, i), s + i,
                                        9 - i), 0xe3069283u);
    }
    for (i = 0; i < sizeof(b); i++) {
        b[i] = (uint8_t) (i * 131 + 7);
    }
    whole = fg_frame_crc32c(0, b, sizeof(b));
    for (i = 0; i <= sizeof(b); i += 37) {
        expect_int_eq(fg_frame_crc32c(fg_frame_crc32c(0, b, i), b + i,
                                        sizeof(b) - i), whole);
    }
}

/* Every single byte value exercises one table entry. */
static void
crc32c_agrees_with_a_bitwise_reference(void)
{
    uint8_t  b[777];
    uint32_t x = 12345, bad = 0;
    size_t   i, n;

    for (i = 0; i < 256; i++) {
        b[0] = (uint8_t) i;
        bad += fg_frame_crc32c(0, b, 1) != ref_crc32c(0, b, 1);
        bad += fg_frame_crc32c(0xdeadbeef, b, 1)
               != ref_crc32c(0xdeadbeef, b, 1);
    }
    for (i = 0; i < sizeof(b); i++) {
        x = x * 1103515245u + 12345u;
        b[i] = (uint8_t) (x >> 16);
    }
    for (n = 0; n <= sizeof(b); n += 7) {
        bad += fg_frame_crc32c(0, b, n) != ref_crc32c(0, b, n);
    }
    expect_int_eq(bad, 0);
}

/* ---- append, sync, replay, reopen ---------------------------------------- */

static void
append_sync_replay_round_trips_every_field(void)
{
    static const char *const payloads[] = {
        "{\"a\":1}", "", "{\"b\":[1,2,3]}", "x", "{\"c\":\"done\"}"
    };
    static const uint32_t types[] = { 1, 7, 0, 0xfffeffffu, 42 };
    static const int64_t  times[] = { 1700000000000, 0, -5, INT64_MAX, 3 };
    char                  path[128];
    fg_journal_t          j;
    fg_err_t              err;
    seen_t                seen;
    fg_replay_stats_t     st;
    uint64_t              offset = 0;
    size_t                i;

    fresh(path, sizeof(path), "roundtrip.journal");
    expect_int_eq(fg_journal_open(path, &j, &err), FG_OK);
    expect_int_eq(j.next_seq, 1);
    for (i = 0; i < 5; i++) {
        expect_int_eq(append_str(&j, types[i], payloads[i], times[i]),
                      FG_OK);
    }
    expect_int_eq(j.next_seq, 6);
    expect_int_eq(j.unsynced, 5);
    expect_int_eq(fg_journal_sync(&j, &err), FG_OK);
    expect_int_eq(j.unsynced, 0);
    expect_int_eq(j.size_bytes, file_size(path));
    fg_journal_close(&j);
    expect_int_eq(j.fd, -1);

    expect_int_eq(replay(path, &seen, &st, &err), FG_OK);
    expect_int_eq(seen.n, 5);
    for (i = 0; i < 5 && i < seen.n; i++) {
        expect_int_eq(seen.type[i], types[i]);
        expect_int_eq(seen.seq[i], i + 1);
        expect_int_eq(seen.time_ms[i], times[i]);
        expect_int_eq(seen.len[i], strlen(payloads[i]));
        expect_str_eq(seen.payload[i], payloads[i]);
        expect_int_eq(seen.offset[i], offset);
        offset += FG_JOURNAL_HEADER_BYTES + strlen(payloads[i]);
    }
    expect_int_eq(st.records, 5);
    expect_int_eq(st.last_seq, 5);
    expect_int_eq(st.valid_bytes, offset);
    expect_int_eq(st.has_torn_tail, 0);
    expect_int_eq(st.dropped_bytes, 0);
    expect_int_eq(file_size(path), offset);
}

static void
record_has_the_documented_layout(void)
{
    char         path[128];
    fg_journal_t j;
    fg_err_t     err;
    uint8_t     *b;
    size_t       len;

    fresh(path, sizeof(path), "layout.journal");
    expect_int_eq(fg_journal_open(path, &j, &err), FG_OK);
    expect_int_eq(append_str(&j, 0x01020304, "{\"k\":\"v\"}",
                             0x0a0b0c0d0e0f1011LL), FG_OK);
    fg_journal_close(&j);

    b = slurp(path, &len);
    expect_int_eq(len, FG_JOURNAL_HEADER_BYTES + 9);
    if (b != NULL && len == FG_JOURNAL_HEADER_BYTES + 9) {
        expect_true(memcmp(b, "FGJR", 4) == 0);
        expect_int_eq(le32(b), FG_JOURNAL_MAGIC);
        expect_int_eq(le32(b + 4), ref_crc32c(0, b + 8, len - 8));
        expect_int_eq(le32(b + 8), 9);
        expect_int_eq(le32(b + 12), 0x01020304);
        expect_int_eq(le64(b + 16), 1);
        expect_int_eq(le64(b + 24), 0x0a0b0c0d0e0f1011LL);
        expect_true(memcmp(b + 32, "{\"k\":\"v\"}", 9) == 0);
    }
    free(b);
}

static void
append_takes_the_largest_payload_and_refuses_one_byte_more(void)
{
    char              path[128];
    fg_journal_t      j;
    fg_err_t          err;
    fg_replay_stats_t st;
    seen_t            seen;
    uint8_t          *big = malloc(FG_JOURNAL_PAYLOAD_MAX + 1);
    size_t            i;
    uint64_t          size;

    for (i = 0; i <= FG_JOURNAL_PAYLOAD_MAX; i++) {
        big[i] = (uint8_t) ('a' + i % 26);
    }
    fresh(path, sizeof(path), "big.journal");
    expect_int_eq(fg_journal_open(path, &j, &err), FG_OK);
    expect_int_eq(fg_journal_append(&j, 1, big, FG_JOURNAL_PAYLOAD_MAX, 1,
                                    &err), FG_OK);
    size = j.size_bytes;
    memset(&err, 0, sizeof(err));
    expect_int_eq(fg_journal_append(&j, 1, big, FG_JOURNAL_PAYLOAD_MAX + 1,
                                    1, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_OUT_OF_RANGE);
    expect_int_eq(j.size_bytes, size);
    expect_int_eq(j.next_seq, 2);
    expect_int_eq(j.has_failed, 0);
    expect_int_eq(file_size(path), size);
    expect_int_eq(append_str(&j, 2, "after", 2), FG_OK);
    fg_journal_close(&j);

    expect_int_eq(replay(path, &seen, &st, &err), FG_OK);
    expect_int_eq(seen.n, 2);
    expect_int_eq(seen.len[0], FG_JOURNAL_PAYLOAD_MAX);
    expect_true(memcmp(seen.payload[0], big, PAYLOAD_COPY - 1) == 0);
    expect_str_eq(seen.payload[1], "after");
    expect_int_eq(st.has_torn_tail, 0);
    free(big);
}

static void
append_refuses_reserved_types_and_changes_nothing(void)
{
    static const uint32_t reserved[] = {
        FG_JOURNAL_TYPE_RESERVED, FG_JOURNAL_TYPE_SNAPSHOT_BEGIN,
        FG_JOURNAL_TYPE_SNAPSHOT_END, FG_JOURNAL_TYPE_ROTATED, UINT32_MAX
    };
    char         path[128];
    fg_journal_t j;
    fg_err_t     err;
    size_t       i;

    fresh(path, sizeof(path), "types.journal");
    expect_int_eq(fg_journal_open(path, &j, &err), FG_OK);
    expect_int_eq(append_str(&j, 1, "a", 1), FG_OK);
    for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        memset(&err, 0, sizeof(err));
        expect_int_eq(fg_journal_append(&j, reserved[i], "b", 1, 1, &err),
                      FG_ERR);
        expect_int_eq(err.code, FG_E_INVALID_VALUE);
    }
    expect_int_eq(j.next_seq, 2);
    expect_int_eq(j.size_bytes, FG_JOURNAL_HEADER_BYTES + 1);
    expect_int_eq(j.has_failed, 0);
    expect_int_eq(file_size(path), FG_JOURNAL_HEADER_BYTES + 1);
    expect_int_eq(append_str(&j, FG_JOURNAL_TYPE_RESERVED - 1, "c", 1),
                  FG_OK);
    fg_journal_close(&j);
}

static void
open_creates_a_missing_journal_readable_only_by_its_owner(void)
{
    char         path[128];
    fg_journal_t j;
    fg_err_t     err;
    struct stat  sb;

    fresh(path, sizeof(path), "new.journal");
    expect_int_eq(fg_journal_open(path, &j, &err), FG_OK);
    expect_true(j.fd >= 0);
    expect_int_eq(j.next_seq, 1);
    expect_int_eq(j.size_bytes, 0);
    expect_int_eq(j.has_failed, 0);
    expect_str_eq(j.path, path);
    expect_int_eq(stat(path, &sb), 0);
    expect_int_eq(sb.st_mode & 0777, 0600);
    expect_int_eq(sb.st_size, 0);
    fg_journal_close(&j);
}

static void
open_refuses_a_path_too_long_for_its_temporary_file(void)
{
    char         path[FG_JOURNAL_PATH_MAX + 16];
    fg_journal_t j;
    fg_err_t     err;

    memset(path, 'a', sizeof(path) - 1);
    path[0] = '/';
    path[FG_JOURNAL_PATH_MAX - 4] = '\0';   /* no room for ".tmp" */
    expect_int_eq(fg_journal_open(path, &j, &err), FG_ERR);
    expect_int_eq(j.fd, -1);
}

static void
reopen_continues_the_sequence(void)
{
    char              path[128];
    fg_journal_t      j;
    fg_err_t          err;
    fg_replay_stats_t st;
    seen_t            seen;
    size_t            i;

    fresh(path, sizeof(path), "reopen.journal");
    expect_int_eq(fg_journal_open(path, &j, &err), FG_OK);
    expect_int_eq(append_str(&j, 1, "a", 1), FG_OK);
    expect_int_eq(append_str(&j, 1, "b", 2), FG_OK);
    expect_int_eq(append_str(&j, 1, "c", 3), FG_OK);
    fg_journal_close(&j);

    expect_int_eq(fg_journal_open(path, &j, &err), FG_OK);
    expect_int_eq(j.next_seq, 4);
    expect_int_eq(j.size_bytes, file_size(path));
    expect_int_eq(append_str(&j, 1, "d", 4), FG_OK);
    expect_int_eq(append_str(&j, 1, "e", 5), FG_OK);
    fg_journal_close(&j);

    expect_int_eq(replay(path, &seen, &st, &err), FG_OK);
    expect_int_eq(seen.n, 5);
    for (i = 0; i < 5 && i < seen.n; i++) {
        expect_int_eq(seen.seq[i], i + 1);
        expect_int_eq(seen.payload[i][0], 'a' + (int) i);
    }
    expect_int_eq(st.last_seq, 5);
}

static void
replay_of_a_missing_journal_is_empty_and_creates_nothing(void)
{
    char              path[128];
    fg_err_t          err;
    fg_replay_stats_t st;
    seen_t            seen;

    fresh(path, sizeof(path), "missing.journal");
    expect_int_eq(replay(path, &seen, &st, &err), FG_OK);
    expect_int_eq(seen.n, 0);
    expect_int_eq(st.records, 0);
    expect_int_eq(st.last_seq, 0);
    expect_int_eq(st.valid_bytes, 0);
    expect_int_eq(st.has_torn_tail, 0);
    expect_true(!exists(path));
    expect_int_eq(fg_journal_replay(path, NULL, NULL, NULL, &err), FG_OK);
}

static void
replay_of_an_empty_journal_is_empty(void)
{
    char              path[128];
    fg_err_t          err;
    fg_replay_stats_t st;
    seen_t            seen;

    fresh(path, sizeof(path), "empty.journal");
    spit(path, "", 0);
    expect_int_eq(replay(path, &seen, &st, &err), FG_OK);
    expect_int_eq(seen.n, 0);
    expect_int_eq(st.has_torn_tail, 0);
    expect_int_eq(st.valid_bytes, 0);
}

static void
replay_stops_with_the_callbacks_error_and_cuts_nothing(void)
{
    char              path[128];
    fg_err_t          err;
    fg_replay_stats_t st;
    seen_t            seen;
    uint8_t          *bytes;
    size_t            len, e2;

    fresh(path, sizeof(path), "cbfail.journal");
    len = three_records(path, &bytes, &e2);
    memset(&seen, 0, sizeof(seen));
    seen.fail_at = 2;
    memset(&err, 0, sizeof(err));
    expect_int_eq(fg_journal_replay(path, collect, &seen, &st, &err),
                  FG_ERR);
    expect_str_eq(err.msg, "callback says stop");
    expect_int_eq(seen.n, 1);
    expect_true(same_file(path, bytes, len));
    free(bytes);
}

/* Records of every size up to 70 KB, so that many straddle the reader's
 * 64 KiB chunks (and one is larger than a chunk); then damage in the
 * middle of the file, then a torn tail far from the start. */
static void
replay_reads_records_across_read_chunks(void)
{
    char              path[128];
    fg_journal_t      j;
    fg_err_t          err;
    fg_replay_stats_t st;
    seen_t            seen;
    uint8_t          *buf = malloc(70000), *bytes;
    size_t            i, n, len, sizes = 0, mid = 0;
    uint32_t          bad = 0;

    for (i = 0; i < 70000; i++) {
        buf[i] = (uint8_t) ('A' + i % 23);
    }
    fresh(path, sizeof(path), "chunks.journal");
    expect_int_eq(fg_journal_open(path, &j, &err), FG_OK);
    for (i = 0; i < 2000; i++) {
        n = i == 1000 ? 70000 : (i * 7919) % 600;
        if (i == 1200) {
            mid = (size_t) j.size_bytes;
        }
        bad += fg_journal_append(&j, 1, buf, n, (int64_t) i, &err) != FG_OK;
        sizes += n;
    }
    fg_journal_close(&j);
    expect_int_eq(bad, 0);
    expect_true(file_size(path) > 4 * 65536);

    expect_int_eq(replay(path, &seen, &st, &err), FG_OK);
    expect_int_eq(st.records, 2000);
    expect_int_eq(st.last_seq, 2000);
    expect_int_eq(st.valid_bytes, 2000 * FG_JOURNAL_HEADER_BYTES + sizes);
    expect_int_eq(st.has_torn_tail, 0);

    bytes = slurp(path, &len);
    bytes[mid + FG_JOURNAL_HEADER_BYTES - 1] ^= 0x10;      /* record 1201 */
    spit(path, bytes, len);
    expect_int_eq(replay(path, &seen, &st, &err), FG_ERR);
    expect_true(same_file(path, bytes, len));
    bytes[mid + FG_JOURNAL_HEADER_BYTES - 1] ^= 0x10;

    spit(path, bytes, len - 1);
    expect_int_eq(replay(path, &seen, &st, &err), FG_OK);
    expect_int_eq(st.records, 1999);
    expect_int_eq(st.has_torn_tail, 1);
    free(bytes);
    free(buf);
}

/* ---- torn tails and damage ---------------------------------------------- */

/* A journal whose only record is cut anywhere becomes empty and starts
 * again at sequence 1. */
static void
replay_cuts_a_torn_first_record_to_an_empty_journal(void)
{
    char              path[128];
    fg_journal_t      j;
    fg_err_t          err;
    fg_replay_stats_t st;
    seen_t            seen;
    uint8_t           b[64];
    size_t            n, cut;
    uint32_t          bad = 0;

    fresh(path, sizeof(path), "first.journal");
    n = frame(b, 1, 1, 0, "{\"only\":true}", 13);
    for (cut = 1; cut < n; cut++) {
        spit(path, b, cut);
        bad += replay(path, &seen, &st, &err) != FG_OK;
        bad += seen.n != 0 || !st.has_torn_tail || st.dropped_offset != 0
               || st.dropped_bytes != cut || file_size(path) != 0;
        bad += fg_journal_open(path, &j, &err) != FG_OK || j.next_seq != 1;
        fg_journal_close(&j);
    }
    expect_int_eq(bad, 0);
}


/*
 * The last record cut at every length between the end of the second and
 * its own end: replay delivers the two whole records, reports and cuts
 * the rest, and the journal then takes appends that replay back.
 */
static void
replay_cuts_a_torn_tail_at_every_offset_of_the_last_record(void)
{
    char              path[128];
    fg_journal_t      j;
    fg_err_t          err;
    fg_replay_stats_t st;
    seen_t            seen;
    uint8_t          *bytes;
    size_t            len, e2, cut;
    uint32_t          bad = 0;

    fresh(path, sizeof(path), "torn.journal");
    len = three_records(path, &bytes, &e2);
    expect_int_eq(len - e2, FG_JOURNAL_HEADER_BYTES + 40);

    for (cut = e2; cut <= len; cut++) {
        spit(path, bytes, cut);
        if (replay(path, &seen, &st, &err) != FG_OK) {
            FG_TEST_FAIL("cut at %zu: %s", cut, err.msg);
            bad++;
            continue;
        }
        if (cut == e2 || cut == len) {
            bad += st.has_torn_tail != 0;
            bad += seen.n != (cut == len ? 3u : 2u);
            bad += (long) cut != file_size(path);
            continue;
        }
        bad += seen.n != 2 || seen.seq[0] != 1 || seen.seq[1] != 2;
        bad += st.records != 2 || st.last_seq != 2;
        bad += !st.has_torn_tail;
        bad += st.dropped_offset != e2 || st.dropped_bytes != cut - e2;
        bad += st.valid_bytes != e2;
        bad += file_size(path) != (long) e2;

        if (fg_journal_open(path, &j, &err) != FG_OK) {
            FG_TEST_FAIL("cut at %zu: reopen: %s", cut, err.msg);
            bad++;
            continue;
        }
        bad += j.next_seq != 3;
        bad += append_str(&j, 9, "again", 9) != FG_OK;
        fg_journal_close(&j);
        bad += replay(path, &seen, &st, &err) != FG_OK;
        bad += seen.n != 3 || seen.seq[2] != 3 || seen.type[2] != 9
               || strcmp(seen.payload[2], "again") != 0;
        bad += st.has_torn_tail;
        if (bad != 0) {
            FG_TEST_FAIL("first failure with the file cut at %zu of %zu",
                         cut, len);
            break;
        }
    }
    expect_int_eq(bad, 0);
    free(bytes);
}

/* Any single flipped byte of the last record (magic, CRC, length, type,
 * sequence, time or payload) makes it a torn tail. */
static void
replay_cuts_a_last_record_with_any_corrupt_byte(void)
{
    char              path[128];
    fg_err_t          err;
    fg_replay_stats_t st;
    seen_t            seen;
    uint8_t          *bytes;
    size_t            len, e2, at;
    uint32_t          bad = 0;

    fresh(path, sizeof(path), "crc.journal");
    len = three_records(path, &bytes, &e2);
    for (at = e2; at < len; at++) {
        bytes[at] ^= 0x20;
        spit(path, bytes, len);
        bytes[at] ^= 0x20;
        if (replay(path, &seen, &st, &err) != FG_OK) {
            FG_TEST_FAIL("byte %zu: %s", at, err.msg);
            bad++;
            continue;
        }
        bad += seen.n != 2 || !st.has_torn_tail
               || st.dropped_offset != e2 || st.dropped_bytes != len - e2
               || file_size(path) != (long) e2;
    }
    expect_int_eq(bad, 0);
    free(bytes);
}

static void
replay_cuts_a_tail_of_zeros(void)
{
    char              path[128];
    fg_err_t          err;
    fg_replay_stats_t st;
    seen_t            seen;
    uint8_t          *bytes, zeros[4096];
    size_t            len, e2;

    fresh(path, sizeof(path), "zeros.journal");
    len = three_records(path, &bytes, &e2);
    memset(zeros, 0, sizeof(zeros));
    spit_append(path, zeros, sizeof(zeros));
    expect_int_eq(replay(path, &seen, &st, &err), FG_OK);
    expect_int_eq(seen.n, 3);
    expect_int_eq(st.has_torn_tail, 1);
    expect_int_eq(st.dropped_offset, len);
    expect_int_eq(st.dropped_bytes, sizeof(zeros));
    expect_true(same_file(path, bytes, len));
    free(bytes);
}

/* Damage followed by a valid record did not come from a crash: replay
 * refuses it and leaves every byte where it was. */
static void
replay_refuses_damage_followed_by_a_valid_record(void)
{
    static const size_t at[] = { 0, 4, 9, 20, 35, 45, 50 };
    char                path[128];
    fg_err_t            err;
    fg_replay_stats_t   st;
    seen_t              seen;
    uint8_t            *bytes;
    size_t              len, e2, i;

    fresh(path, sizeof(path), "damage.journal");
    len = three_records(path, &bytes, &e2);
    for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        expect_true(at[i] < e2);
        bytes[at[i]] ^= 0x01;
        spit(path, bytes, len);
        expect_int_eq(replay(path, &seen, &st, &err), FG_ERR);
        expect_int_eq(err.code, FG_E_INTERNAL);
        expect_true(strstr(err.msg, "refusing") != NULL);
        expect_true(same_file(path, bytes, len));
        bytes[at[i]] ^= 0x01;
    }
    free(bytes);
}

static void
replay_refuses_a_sequence_that_does_not_increase(void)
{
    char              path[128];
    fg_err_t          err;
    fg_replay_stats_t st;
    seen_t            seen;
    uint8_t           b[256];
    size_t            n;

    fresh(path, sizeof(path), "seq.journal");
    n = frame(b, 1, 1, 0, "a", 1);
    n += frame(b + n, 1, 2, 0, "b", 1);
    n += frame(b + n, 1, 2, 0, "c", 1);
    spit(path, b, n);
    expect_int_eq(replay(path, &seen, &st, &err), FG_ERR);
    expect_true(same_file(path, b, n));

    n = frame(b, 1, 5, 0, "a", 1);
    n += frame(b + n, 1, 3, 0, "b", 1);
    spit(path, b, n);
    expect_int_eq(replay(path, &seen, &st, &err), FG_ERR);

    n = frame(b, 1, 5, 0, "a", 1);           /* gaps are fine */
    n += frame(b + n, 1, 9, 0, "b", 1);
    spit(path, b, n);
    expect_int_eq(replay(path, &seen, &st, &err), FG_OK);
    expect_int_eq(seen.n, 2);
    expect_int_eq(st.last_seq, 9);
}

static void
open_refuses_a_torn_tail_until_it_is_replayed(void)
{
    char              path[128];
    fg_journal_t      j;
    fg_err_t          err;
    fg_replay_stats_t st;
    seen_t            seen;
    uint8_t          *bytes;
    size_t            len, e2;

    fresh(path, sizeof(path), "opentorn.journal");
    len = three_records(path, &bytes, &e2);
    spit(path, bytes, len - 3);
    memset(&err, 0, sizeof(err));
    expect_int_eq(fg_journal_open(path, &j, &err), FG_ERR);
    expect_true(strstr(err.msg, "replay it first") != NULL);
    expect_int_eq(j.fd, -1);
    expect_true(same_file(path, bytes, len - 3));
    expect_int_eq(replay(path, &seen, &st, &err), FG_OK);
    expect_int_eq(fg_journal_open(path, &j, &err), FG_OK);
    expect_int_eq(j.next_seq, 3);
    fg_journal_close(&j);
    free(bytes);
}

static void
open_refuses_damage_in_the_middle(void)
{
    char         path[128];
    fg_journal_t j;
    fg_err_t     err;
    uint8_t     *bytes;
    size_t       len, e2;

    fresh(path, sizeof(path), "openbad.journal");
    len = three_records(path, &bytes, &e2);
    bytes[e2 - 1] ^= 0x40;
    spit(path, bytes, len);
    expect_int_eq(fg_journal_open(path, &j, &err), FG_ERR);
    expect_int_eq(j.fd, -1);
    expect_true(same_file(path, bytes, len));
    free(bytes);
}

/*
 * A write cut short (here by RLIMIT_FSIZE) may leave the file inside a
 * record: the journal must refuse every later append, sync and rotation
 * with the first reason, and replay must then cut the partial record.
 */
static void
short_write_makes_the_journal_fail_for_good(void)
{
    char              path[128], payload[100];
    fg_journal_t      j;
    fg_err_t          err;
    fg_replay_stats_t st;
    seen_t            seen;
    struct rlimit     saved, small;
    void            (*old_handler)(int);
    uint64_t          size;
    int               rc;

    fresh(path, sizeof(path), "short.journal");
    expect_int_eq(fg_journal_open(path, &j, &err), FG_OK);
    expect_int_eq(append_str(&j, 1, "first", 1), FG_OK);
    size = j.size_bytes;
    memset(payload, 'p', sizeof(payload) - 1);
    payload[sizeof(payload) - 1] = '\0';

    if (getrlimit(RLIMIT_FSIZE, &saved) != 0) {
        FG_TEST_FAIL("getrlimit: %s", strerror(errno));
        fg_journal_close(&j);
        return;
    }
    old_handler = signal(SIGXFSZ, SIG_IGN);
    small = saved;
    small.rlim_cur = size + 40;
    setrlimit(RLIMIT_FSIZE, &small);
    memset(&err, 0, sizeof(err));
    rc = fg_journal_append(&j, 1, payload, strlen(payload), 2, &err);
    setrlimit(RLIMIT_FSIZE, &saved);
    signal(SIGXFSZ, old_handler);

    expect_int_eq(rc, FG_ERR);
    expect_true(strstr(err.msg, "short write") != NULL);
    expect_int_eq(j.has_failed, 1);
    expect_int_eq(file_size(path), size + 40);

    memset(&err, 0, sizeof(err));
    expect_int_eq(append_str(&j, 1, "later", 3), FG_ERR);
    expect_int_eq(fg_journal_append(&j, 1, "later", 5, 3, &err), FG_ERR);
    expect_true(strstr(err.msg, "short write") != NULL);
    expect_int_eq(fg_journal_sync(&j, &err), FG_ERR);
    expect_int_eq(fg_journal_rotate(&j, 100, &err), FG_ERR);
    expect_int_eq(file_size(path), size + 40);
    fg_journal_close(&j);

    expect_int_eq(replay(path, &seen, &st, &err), FG_OK);
    expect_int_eq(seen.n, 1);
    expect_str_eq(seen.payload[0], "first");
    expect_int_eq(st.has_torn_tail, 1);
    expect_int_eq(st.dropped_bytes, 40);
    expect_int_eq(file_size(path), size);
}

static void
closed_journal_refuses_appends_and_close_accepts_anything(void)
{
    char         path[128];
    fg_journal_t j;
    fg_err_t     err;

    fresh(path, sizeof(path), "closed.journal");
    expect_int_eq(fg_journal_open(path, &j, &err), FG_OK);
    fg_journal_close(&j);
    fg_journal_close(&j);
    fg_journal_close(NULL);
    memset(&err, 0, sizeof(err));
    expect_int_eq(fg_journal_append(&j, 1, "x", 1, 1, &err), FG_ERR);
    expect_true(strstr(err.msg, "not open") != NULL);
    expect_int_eq(fg_journal_sync(&j, &err), FG_ERR);
    expect_int_eq(file_size(path), 0);
}

/* ---- rotation ------------------------------------------------------------ */

static void
rotate_is_refused_while_records_above_covered_seq_remain(void)
{
    char         path[128], tmp[160];
    fg_journal_t j;
    fg_err_t     err;
    uint8_t     *bytes;
    size_t       len;
    int          i;

    fresh(path, sizeof(path), "rotref.journal");
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    expect_int_eq(fg_journal_open(path, &j, &err), FG_OK);
    for (i = 0; i < 5; i++) {
        expect_int_eq(append_str(&j, 1, "r", i), FG_OK);
    }
    bytes = slurp(path, &len);
    memset(&err, 0, sizeof(err));
    expect_int_eq(fg_journal_rotate(&j, 4, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_INVALID_VALUE);
    expect_int_eq(fg_journal_rotate(&j, 0, &err), FG_ERR);
    expect_true(same_file(path, bytes, len));
    expect_true(!exists(tmp));
    expect_int_eq(j.next_seq, 6);
    expect_int_eq(j.has_failed, 0);
    expect_int_eq(append_str(&j, 1, "s", 6), FG_OK);
    fg_journal_close(&j);
    free(bytes);
}

static void
rotate_then_replay_gives_only_later_records(void)
{
    char              path[128], tmp[160];
    fg_journal_t      j;
    fg_err_t          err;
    fg_replay_stats_t st;
    seen_t            seen;
    uint8_t          *b;
    size_t            len;
    int               i;

    fresh(path, sizeof(path), "rotate.journal");
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    expect_int_eq(fg_journal_open(path, &j, &err), FG_OK);
    for (i = 0; i < 5; i++) {
        expect_int_eq(append_str(&j, 1, "before", i), FG_OK);
    }
    expect_int_eq(fg_journal_rotate(&j, 5, &err), FG_OK);
    expect_int_eq(j.next_seq, 7);
    expect_int_eq(j.size_bytes, FG_JOURNAL_HEADER_BYTES);
    expect_int_eq(file_size(path), FG_JOURNAL_HEADER_BYTES);
    expect_true(!exists(tmp));
    b = slurp(path, &len);
    if (b != NULL && len == FG_JOURNAL_HEADER_BYTES) {
        expect_int_eq(le32(b + 12), FG_JOURNAL_TYPE_ROTATED);
        expect_int_eq(le64(b + 16), 6);
    }
    free(b);

    expect_int_eq(replay(path, &seen, &st, &err), FG_OK);
    expect_int_eq(seen.n, 0);
    expect_int_eq(st.last_seq, 6);

    expect_int_eq(append_str(&j, 2, "after-1", 10), FG_OK);
    expect_int_eq(append_str(&j, 2, "after-2", 11), FG_OK);
    expect_int_eq(fg_journal_sync(&j, &err), FG_OK);
    fg_journal_close(&j);

    expect_int_eq(replay(path, &seen, &st, &err), FG_OK);
    expect_int_eq(seen.n, 2);
    expect_int_eq(seen.seq[0], 7);
    expect_int_eq(seen.seq[1], 8);
    expect_str_eq(seen.payload[0], "after-1");
    expect_str_eq(seen.payload[1], "after-2");
    expect_int_eq(st.records, 2);
    expect_int_eq(st.last_seq, 8);

    expect_int_eq(fg_journal_open(path, &j, &err), FG_OK);
    expect_int_eq(j.next_seq, 9);
    fg_journal_close(&j);
}

/*
 * Recovery replays the journal records above the sequence the snapshot
 * covers. A rotation after a snapshot that covers more than the journal
 * holds (the journal was lost, say) must therefore number what follows
 * above @covered_seq, or recovery would skip it.
 */
static void
rotate_beyond_the_journal_keeps_later_records_above_covered_seq(void)
{
    char              path[128];
    fg_journal_t      j;
    fg_err_t          err;
    fg_replay_stats_t st;
    seen_t            seen;

    fresh(path, sizeof(path), "rotpast.journal");
    expect_int_eq(fg_journal_open(path, &j, &err), FG_OK);
    expect_int_eq(append_str(&j, 1, "a", 1), FG_OK);
    expect_int_eq(append_str(&j, 1, "b", 2), FG_OK);
    expect_int_eq(fg_journal_rotate(&j, 10, &err), FG_OK);
    expect_true(j.next_seq > 11);
    expect_int_eq(append_str(&j, 1, "c", 3), FG_OK);
    fg_journal_close(&j);

    expect_int_eq(replay(path, &seen, &st, &err), FG_OK);
    expect_int_eq(seen.n, 1);
    expect_true(seen.seq[0] > 10);
    expect_str_eq(seen.payload[0], "c");
    expect_int_eq(fg_journal_open(path, &j, &err), FG_OK);
    expect_int_eq(j.next_seq, seen.seq[0] + 1);
    fg_journal_close(&j);
}

/* ---- snapshots ----------------------------------------------------------- */

static int
snapshot_read(const char *path, seen_t *seen, uint64_t *covered,
              fg_err_t *err)
{
    memset(seen, 0, sizeof(*seen));
    memset(err, 0, sizeof(*err));
    *covered = 12345;
    return fg_journal_snapshot_read(path, collect, seen, covered, err);
}

static int
write_three_entries(const char *path, uint64_t covered, const char *tag)
{
    fg_journal_entry_t e[3];
    fg_err_t           err;
    char               p[3][32];
    int                i;

    memset(e, 0, sizeof(e));
    for (i = 0; i < 3; i++) {
        snprintf(p[i], sizeof(p[i]), "{\"%s\":%d}", tag, i);
        e[i].type = (uint32_t) (10 + i);
        e[i].payload = p[i];
        e[i].len = strlen(p[i]);
    }
    return fg_journal_snapshot_write(path, e, 3, covered, 77, &err);
}

static void
snapshot_write_then_read_gives_every_entry_in_order(void)
{
    char        path[128], tmp[160];
    fg_err_t    err;
    seen_t      seen;
    uint64_t    covered;
    struct stat sb;
    char        want[32];
    size_t      i;

    fresh(path, sizeof(path), "a.snapshot");
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    expect_int_eq(write_three_entries(path, 42, "k"), FG_OK);
    expect_true(!exists(tmp));
    expect_int_eq(stat(path, &sb), 0);
    expect_int_eq(sb.st_mode & 0777, 0600);

    expect_int_eq(snapshot_read(path, &seen, &covered, &err), FG_OK);
    expect_int_eq(covered, 42);
    expect_int_eq(seen.n, 3);
    for (i = 0; i < 3 && i < seen.n; i++) {
        snprintf(want, sizeof(want), "{\"k\":%zu}", i);
        expect_int_eq(seen.type[i], 10 + i);
        expect_int_eq(seen.seq[i], i + 1);
        expect_int_eq(seen.time_ms[i], 77);
        expect_str_eq(seen.payload[i], want);
    }
}

static void
snapshot_of_no_entries_round_trips(void)
{
    char     path[128];
    fg_err_t err;
    seen_t   seen;
    uint64_t covered;

    fresh(path, sizeof(path), "empty.snapshot");
    expect_int_eq(fg_journal_snapshot_write(path, NULL, 0, 9, 1, &err),
                  FG_OK);
    expect_int_eq(snapshot_read(path, &seen, &covered, &err), FG_OK);
    expect_int_eq(seen.n, 0);
    expect_int_eq(covered, 9);
}

static void
missing_snapshot_is_empty_and_covers_nothing(void)
{
    char     path[128];
    fg_err_t err;
    seen_t   seen;
    uint64_t covered;

    fresh(path, sizeof(path), "missing.snapshot");
    expect_int_eq(snapshot_read(path, &seen, &covered, &err), FG_OK);
    expect_int_eq(seen.n, 0);
    expect_int_eq(covered, 0);
    expect_true(!exists(path));
}

static void
snapshot_without_its_end_is_an_error(void)
{
    char     path[128];
    fg_err_t err;
    seen_t   seen;
    uint64_t covered;
    long     size;

    fresh(path, sizeof(path), "noend.snapshot");
    expect_int_eq(write_three_entries(path, 42, "k"), FG_OK);
    size = file_size(path);
    expect_int_eq(truncate(path, size - (FG_JOURNAL_HEADER_BYTES + 8)), 0);
    expect_int_eq(snapshot_read(path, &seen, &covered, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_INTERNAL);
    expect_int_eq(covered, 0);
}

static void
snapshot_of_the_wrong_shape_is_an_error(void)
{
    char     path[128];
    fg_err_t err;
    seen_t   seen;
    uint64_t covered;
    uint8_t  b[512];
    size_t   n;

    fresh(path, sizeof(path), "shape.snapshot");

    /* no BEGIN */
    n = frame(b, 10, 1, 0, "x", 1);
    n += frame_u64(b + n, FG_JOURNAL_TYPE_SNAPSHOT_END, 2, 1);
    spit(path, b, n);
    expect_int_eq(snapshot_read(path, &seen, &covered, &err), FG_ERR);

    /* END counts 3 entries, there are 2 */
    n = frame_u64(b, FG_JOURNAL_TYPE_SNAPSHOT_BEGIN, 0, 5);
    n += frame(b + n, 10, 1, 0, "x", 1);
    n += frame(b + n, 10, 2, 0, "y", 1);
    n += frame_u64(b + n, FG_JOURNAL_TYPE_SNAPSHOT_END, 3, 3);
    spit(path, b, n);
    expect_int_eq(snapshot_read(path, &seen, &covered, &err), FG_ERR);

    /* an entry after END */
    n = frame_u64(b, FG_JOURNAL_TYPE_SNAPSHOT_BEGIN, 0, 5);
    n += frame_u64(b + n, FG_JOURNAL_TYPE_SNAPSHOT_END, 1, 0);
    n += frame(b + n, 10, 2, 0, "x", 1);
    spit(path, b, n);
    expect_int_eq(snapshot_read(path, &seen, &covered, &err), FG_ERR);

    /* a reserved type among the entries */
    n = frame_u64(b, FG_JOURNAL_TYPE_SNAPSHOT_BEGIN, 0, 5);
    n += frame(b + n, FG_JOURNAL_TYPE_ROTATED, 1, 0, "", 0);
    n += frame_u64(b + n, FG_JOURNAL_TYPE_SNAPSHOT_END, 2, 1);
    spit(path, b, n);
    expect_int_eq(snapshot_read(path, &seen, &covered, &err), FG_ERR);

    /* an empty file */
    spit(path, b, 0);
    expect_int_eq(snapshot_read(path, &seen, &covered, &err), FG_ERR);

    /* the well-formed control: BEGIN, one entry, END */
    n = frame_u64(b, FG_JOURNAL_TYPE_SNAPSHOT_BEGIN, 0, 5);
    n += frame(b + n, 10, 1, 0, "x", 1);
    n += frame_u64(b + n, FG_JOURNAL_TYPE_SNAPSHOT_END, 2, 1);
    spit(path, b, n);
    expect_int_eq(snapshot_read(path, &seen, &covered, &err), FG_OK);
    expect_int_eq(seen.n, 1);
    expect_int_eq(covered, 5);
}

/* Snapshots are renamed into place whole, so any damage is an error:
 * every flipped byte and every truncation. */
static void
snapshot_with_any_damage_is_an_error(void)
{
    char     path[128];
    fg_err_t err;
    seen_t   seen;
    uint64_t covered;
    uint8_t *bytes;
    size_t   len, i;
    uint32_t bad = 0;

    fresh(path, sizeof(path), "damage.snapshot");
    expect_int_eq(write_three_entries(path, 42, "k"), FG_OK);
    bytes = slurp(path, &len);
    for (i = 0; i < len; i++) {
        bytes[i] ^= 0x08;
        spit(path, bytes, len);
        bytes[i] ^= 0x08;
        bad += snapshot_read(path, &seen, &covered, &err) != FG_ERR;
        bad += covered != 0;
    }
    for (i = 0; i < len; i++) {
        spit(path, bytes, i);
        bad += snapshot_read(path, &seen, &covered, &err) != FG_ERR;
    }
    expect_int_eq(bad, 0);
    spit(path, bytes, len);
    expect_int_eq(snapshot_read(path, &seen, &covered, &err), FG_OK);
    free(bytes);
}

static void
snapshot_commit_replaces_the_old_snapshot(void)
{
    char     path[128];
    fg_err_t err;
    seen_t   seen;
    uint64_t covered;

    fresh(path, sizeof(path), "replace.snapshot");
    expect_int_eq(write_three_entries(path, 1, "old"), FG_OK);
    expect_int_eq(write_three_entries(path, 2, "new"), FG_OK);
    expect_int_eq(snapshot_read(path, &seen, &covered, &err), FG_OK);
    expect_int_eq(covered, 2);
    expect_str_eq(seen.payload[0], "{\"new\":0}");
}

static void
snapshot_abort_keeps_the_old_snapshot_and_removes_the_temporary(void)
{
    char                  path[128], tmp[160];
    fg_journal_snapshot_t s;
    fg_err_t              err;
    seen_t                seen;
    uint64_t              covered;

    fresh(path, sizeof(path), "abort.snapshot");
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    expect_int_eq(write_three_entries(path, 1, "old"), FG_OK);
    expect_int_eq(fg_journal_snapshot_begin(&s, path, 2, 5, &err), FG_OK);
    expect_true(exists(tmp));
    expect_int_eq(fg_journal_snapshot_add(&s, 10, "{}", 2, &err), FG_OK);
    fg_journal_snapshot_abort(&s);
    fg_journal_snapshot_abort(&s);
    expect_true(!exists(tmp));
    expect_int_eq(fg_journal_snapshot_commit(&s, &err), FG_ERR);
    expect_int_eq(snapshot_read(path, &seen, &covered, &err), FG_OK);
    expect_int_eq(covered, 1);
    expect_str_eq(seen.payload[0], "{\"old\":0}");
}

static void
snapshot_add_refuses_a_reserved_type_or_a_long_payload_and_aborts(void)
{
    char                  path[128], tmp[160];
    fg_journal_snapshot_t s;
    fg_err_t              err;
    seen_t                seen;
    uint64_t              covered;
    uint8_t              *big = calloc(FG_JOURNAL_PAYLOAD_MAX + 1, 1);

    fresh(path, sizeof(path), "refuse.snapshot");
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    expect_int_eq(write_three_entries(path, 1, "old"), FG_OK);

    expect_int_eq(fg_journal_snapshot_begin(&s, path, 2, 5, &err), FG_OK);
    expect_int_eq(fg_journal_snapshot_add(&s, FG_JOURNAL_TYPE_SNAPSHOT_END,
                                          "", 0, &err), FG_ERR);
    expect_true(s.f == NULL);
    expect_true(!exists(tmp));
    expect_int_eq(fg_journal_snapshot_add(&s, 10, "{}", 2, &err), FG_ERR);
    expect_int_eq(fg_journal_snapshot_commit(&s, &err), FG_ERR);

    expect_int_eq(fg_journal_snapshot_begin(&s, path, 2, 5, &err), FG_OK);
    expect_int_eq(fg_journal_snapshot_add(&s, 10, big,
                                          FG_JOURNAL_PAYLOAD_MAX + 1, &err),
                  FG_ERR);
    expect_true(!exists(tmp));

    expect_int_eq(snapshot_read(path, &seen, &covered, &err), FG_OK);
    expect_int_eq(covered, 1);
    free(big);
}

static void
snapshot_begin_replaces_a_stale_temporary_file(void)
{
    char     path[128], tmp[160];
    fg_err_t err;
    seen_t   seen;
    uint64_t covered;

    fresh(path, sizeof(path), "stale.snapshot");
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    spit(tmp, "left over by a crash, much longer than nothing at all", 53);
    expect_int_eq(fg_journal_snapshot_write(path, NULL, 0, 3, 1, &err),
                  FG_OK);
    expect_true(!exists(tmp));
    expect_int_eq(snapshot_read(path, &seen, &covered, &err), FG_OK);
    expect_int_eq(covered, 3);
}

static void
snapshot_read_stops_with_the_callbacks_error(void)
{
    char     path[128];
    fg_err_t err;
    seen_t   seen;
    uint64_t covered = 99;

    fresh(path, sizeof(path), "cb.snapshot");
    expect_int_eq(write_three_entries(path, 42, "k"), FG_OK);
    memset(&seen, 0, sizeof(seen));
    seen.fail_at = 2;
    expect_int_eq(fg_journal_snapshot_read(path, collect, &seen, &covered,
                                           &err), FG_ERR);
    expect_str_eq(err.msg, "callback says stop");
    expect_int_eq(seen.n, 1);
    expect_int_eq(covered, 0);
}

/* ---- main ---------------------------------------------------------------- */

static void
remove_test_dir(void)
{
    DIR           *d = opendir(test_dir);
    struct dirent *e;
    char           path[400];

    if (d == NULL) {
        return;
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(path, sizeof(path), "%s/%s", test_dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
    rmdir(test_dir);
}

int
main(void)
{
    static const fg_test_case_t cases[] = {
        FG_TEST_CASE(crc32c_of_123456789_is_the_check_value),
        FG_TEST_CASE(crc32c_matches_the_rfc3720_vectors),
        FG_TEST_CASE(crc32c_of_no_bytes_is_the_value_it_continues),
        FG_TEST_CASE(crc32c_chains_across_every_split),
        FG_TEST_CASE(crc32c_agrees_with_a_bitwise_reference),
        FG_TEST_CASE(append_sync_replay_round_trips_every_field),
        FG_TEST_CASE(record_has_the_documented_layout),
        FG_TEST_CASE(
            append_takes_the_largest_payload_and_refuses_one_byte_more),
        FG_TEST_CASE(append_refuses_reserved_types_and_changes_nothing),
        FG_TEST_CASE(
            open_creates_a_missing_journal_readable_only_by_its_owner),
        FG_TEST_CASE(open_refuses_a_path_too_long_for_its_temporary_file),
        FG_TEST_CASE(reopen_continues_the_sequence),
        FG_TEST_CASE(replay_of_a_missing_journal_is_empty_and_creates_nothing),
        FG_TEST_CASE(replay_of_an_empty_journal_is_empty),
        FG_TEST_CASE(replay_stops_with_the_callbacks_error_and_cuts_nothing),
        FG_TEST_CASE(replay_reads_records_across_read_chunks),
        FG_TEST_CASE(replay_cuts_a_torn_first_record_to_an_empty_journal),
        FG_TEST_CASE(
            replay_cuts_a_torn_tail_at_every_offset_of_the_last_record),
        FG_TEST_CASE(replay_cuts_a_last_record_with_any_corrupt_byte),
        FG_TEST_CASE(replay_cuts_a_tail_of_zeros),
        FG_TEST_CASE(replay_refuses_damage_followed_by_a_valid_record),
        FG_TEST_CASE(replay_refuses_a_sequence_that_does_not_increase),
        FG_TEST_CASE(open_refuses_a_torn_tail_until_it_is_replayed),
        FG_TEST_CASE(open_refuses_damage_in_the_middle),
        FG_TEST_CASE(short_write_makes_the_journal_fail_for_good),
        FG_TEST_CASE(
            closed_journal_refuses_appends_and_close_accepts_anything),
        FG_TEST_CASE(rotate_is_refused_while_records_above_covered_seq_remain),
        FG_TEST_CASE(rotate_then_replay_gives_only_later_records),
        FG_TEST_CASE(
            rotate_beyond_the_journal_keeps_later_records_above_covered_seq),
        FG_TEST_CASE(snapshot_write_then_read_gives_every_entry_in_order),
        FG_TEST_CASE(snapshot_of_no_entries_round_trips),
        FG_TEST_CASE(missing_snapshot_is_empty_and_covers_nothing),
        FG_TEST_CASE(snapshot_without_its_end_is_an_error),
        FG_TEST_CASE(snapshot_of_the_wrong_shape_is_an_error),
        FG_TEST_CASE(snapshot_with_any_damage_is_an_error),
        FG_TEST_CASE(snapshot_commit_replaces_the_old_snapshot),
        FG_TEST_CASE(
            snapshot_abort_keeps_the_old_snapshot_and_removes_the_temporary),
        FG_TEST_CASE(
            snapshot_add_refuses_a_reserved_type_or_a_long_payload_and_aborts),
        FG_TEST_CASE(snapshot_begin_replaces_a_stale_temporary_file),
        FG_TEST_CASE(snapshot_read_stops_with_the_callbacks_error),
    };
    int rc;

    snprintf(test_dir, sizeof(test_dir), "/tmp/fg-test-journal-XXXXXX");
    if (mkdtemp(test_dir) == NULL) {
        fprintf(stderr, "mkdtemp(%s) failed: %s\n", test_dir,
                strerror(errno));
        return 1;
    }
    rc = fg_test_run("journal", cases, sizeof(cases) / sizeof(cases[0]));
    remove_test_dir();
    return rc;
}
