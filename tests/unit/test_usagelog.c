/*
 * test_usagelog.c: the usage journal (common/store/usagelog.h). Append, sync
 * and reopen, the records read back byte for byte; the line format (JSON
 * a tool reads, CRC over the line before it); the torn-tail rule at every
 * truncation offset and every corrupt byte of the last line, and its
 * limit (damage followed by a valid line is refused, the file left as it
 * was); write and fdatasync failures that stay failed; the dedupe of
 * re-delivered records, also across a reopen and end to end through a
 * ring with a syncer that dies between write and commit; the group-commit
 * clock; the aggregation per key, model and day with its filters; and
 * a journal of line format 1 (tests/fixtures/usage-v1.journal, written
 * by the build before format 2) read as it was written, continued with
 * format 2 lines, and its torn tail cut in either format.
 *
 * Files live in one mkdtemp(3) directory under /tmp, removed at the end.
 */

#include "common/store/usagelog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/store/frame.h"
#include "common/store/usagerepair.h"
#include "common/accounts/usagering.h"
#include "tests/unit/fg_test.h"

#define DAY1  1767225600000LL     /* 2026-01-01T00:00:00Z */
#define DAY   86400000LL

static char test_dir[64];

/* ---- helpers ---------------------------------------------------------- */

static const char *
fresh(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", test_dir, name);
    unlink(buf);
    return buf;
}

static long
file_size(const char *path)
{
    struct stat sb;

    return stat(path, &sb) == 0 ? (long) sb.st_size : -1;
}

/* The whole file, malloc'd and NUL-terminated, its length in *@len. */
static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long  n;

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
    buf[n] = '\0';
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
rec_make(fg_usage_record_t *rec, unsigned ring, uint64_t seq)
{
    char id[32];

    fg_usage_init(rec);
    rec->seq = seq;
    rec->ring = ring;
    snprintf(id, sizeof(id), "req_%u_%llu", ring, (unsigned long long) seq);
    FG_USAGE_SET(rec->request_id, id);
    FG_USAGE_SET(rec->key_id, "key_00000000000000aa");
    FG_USAGE_SET(rec->model_requested, "demo-chat");
    FG_USAGE_SET(rec->model_served, "demo/chat");
    FG_USAGE_SET(rec->provider, "demo");
    rec->status = 200;
    rec->started_unix_ms = DAY1 + (int64_t) seq * 1000;
    rec->latency_us = 1000 + (int64_t) seq;
    rec->ttfb_us = 500;
    rec->prompt_tokens = 10 * (int64_t) seq;
    rec->completion_tokens = 20;
    rec->charged_micro = 300;
    rec->energy_kwh = 0.001 * (double) seq;
    rec->flags = (seq & 1) ? FG_USAGE_STREAM : 0;
}

/* Opens @path as node "n1"; fails the test when it cannot. */
static fg_usagelog_t *
log_open(const char *path, fg_usagelog_scan_t *scan)
{
    fg_err_t       err;
    fg_usagelog_t *log = fg_usagelog_open(path, "n1", scan, &err);

    if (log == NULL) {
        FG_TEST_FAIL("open %s: %s", path, err.msg);
    }
    return log;
}

/* A journal of records seq 1..@n on ring 0, synced and closed. */
static void
log_write(const char *path, unsigned n)
{
    fg_usage_record_t rec;
    fg_usagelog_t    *log = log_open(path, NULL);
    fg_err_t          err;
    unsigned          i;

    for (i = 1; i <= n; i++) {
        rec_make(&rec, 0, i);
        expect_int_eq(fg_usagelog_append(log, &rec, 1, 0, NULL, &err),
                      FG_OK);
    }
    expect_int_eq(fg_usagelog_sync(log, &err), FG_OK);
    fg_usagelog_close(log);
}

typedef struct {
    fg_usage_record_t recs[64];
    size_t            n;
    char              node[FG_USAGELOG_NODE_MAX + 1];
} collect_t;

static int
collect_cb(const fg_usage_record_t *rec, const char *node, void *arg,
           fg_err_t *err)
{
    collect_t *c = arg;

    (void) err;
    if (c->n < 64) {
        c->recs[c->n++] = *rec;
    }
    snprintf(c->node, sizeof(c->node), "%s", node);
    return FG_OK;
}

/* Offset of the first byte of the last line of @buf (@len bytes). */
static size_t
last_line_start(const char *buf, size_t len)
{
    size_t i = len - 1;

    while (i > 0 && buf[i - 1] != '\n') {
        i--;
    }
    return i;
}

/* ---- tests ------------------------------------------------------------ */

static void
appended_records_come_back_after_a_reopen(void)
{
    char               path[128];
    fg_usage_record_t  recs[6];
    fg_usagelog_scan_t scan;
    fg_usagelog_t     *log;
    collect_t          c;
    fg_err_t           err;
    size_t             written, i;

    fresh(path, sizeof(path), "basic.jsonl");
    log = log_open(path, &scan);
    expect_int_eq(scan.records, 0);
    expect_int_eq(scan.has_torn_tail, 0);
    expect_int_eq(file_size(path), 0);
    for (i = 0; i < 6; i++) {
        rec_make(&recs[i], (unsigned) (i % 2), 2 * i + 1);
    }
    recs[3].energy_kwh = 1.0 / 3.0;
    FG_USAGE_SET(recs[4].model_served, "quote\" back\\slash é");
    expect_int_eq(fg_usagelog_append(log, recs, 6, 1000, &written, &err),
                  FG_OK);
    expect_int_eq(written, 6);
    expect_int_eq(fg_usagelog_pending(log), 6);
    expect_int_eq(fg_usagelog_sync(log, &err), FG_OK);
    expect_int_eq(fg_usagelog_pending(log), 0);
    expect_int_eq(fg_usagelog_last_seq(log), 11);
    fg_usagelog_close(log);

    log = log_open(path, &scan);
    expect_int_eq(scan.records, 6);
    expect_int_eq(scan.last_seq, 11);
    expect_int_eq(scan.valid_bytes, file_size(path));
    expect_int_eq(fg_usagelog_last_seq(log), 11);
    expect_int_eq(fg_usagelog_ring_seq(log, 0), 9);
    expect_int_eq(fg_usagelog_ring_seq(log, 1), 11);
    expect_int_eq(fg_usagelog_ring_seq(log, 2), 0);
    fg_usagelog_close(log);

    memset(&c, 0, sizeof(c));
    expect_int_eq(fg_usagelog_read(path, collect_cb, &c, &scan, &err),
                  FG_OK);
    expect_int_eq(c.n, 6);
    expect_str_eq(c.node, "n1");
    for (i = 0; i < c.n; i++) {
        expect_true(memcmp(&c.recs[i], &recs[i], sizeof(recs[i])) == 0);
    }
}

static void
each_line_is_json_with_a_crc_of_what_precedes_it(void)
{
    char              path[128], *buf, *line, *save = NULL;
    size_t            len;
    int               lines = 0;

    fresh(path, sizeof(path), "format.jsonl");
    log_write(path, 3);
    buf = slurp(path, &len);
    expect_true(len > 0 && buf[len - 1] == '\n');
    for (line = strtok_r(buf, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        json_t     *obj = json_loads(line, 0, NULL);
        const char *crc, *at;
        char        want[9];

        lines++;
        expect_true(obj != NULL);
        expect_int_eq(json_integer_value(json_object_get(obj, "v")), 2);
        expect_str_eq(json_string_value(json_object_get(obj, "node")), "n1");
        expect_int_eq(json_integer_value(json_object_get(obj, "seq")), lines);
        crc = json_string_value(json_object_get(obj, "crc"));
        at = strstr(line, ",\"crc\":\"");
        expect_true(crc != NULL && at != NULL);
        if (crc != NULL && at != NULL) {
            snprintf(want, sizeof(want), "%08x",
                     fg_frame_crc32c(0, line, (size_t) (at - line)));
            expect_str_eq(crc, want);
        }
        json_decref(obj);
    }
    expect_int_eq(lines, 3);
    free(buf);
}

static void
a_torn_last_line_is_cut_at_every_offset_then_appended(void)
{
    char               path[128], *full;
    size_t             len, start, cut;
    fg_usagelog_scan_t scan;
    fg_usagelog_t     *log;
    fg_usage_record_t  rec;
    fg_err_t           err;
    int                ok = 1;

    fresh(path, sizeof(path), "torn.jsonl");
    log_write(path, 3);
    full = slurp(path, &len);
    start = last_line_start(full, len);

    /* Every length from "the third line's first byte" to "all but its
     * newline": two records survive, the rest is cut and reported. */
    for (cut = start + 1; cut < len && ok; cut++) {
        spit(path, full, cut);
        log = fg_usagelog_open(path, "n1", &scan, &err);
        ok &= log != NULL;
        if (log == NULL) {
            FG_TEST_FAIL("cut at %zu: %s", cut, err.msg);
            break;
        }
        ok &= scan.records == 2 && scan.has_torn_tail
              && scan.dropped_offset == start
              && scan.dropped_bytes == cut - start
              && scan.last_seq == 2
              && file_size(path) == (long) start;
        /* The next record follows the last valid line. */
        rec_make(&rec, 0, 3);
        ok &= fg_usagelog_append(log, &rec, 1, 0, NULL, &err) == FG_OK;
        ok &= fg_usagelog_sync(log, &err) == FG_OK;
        fg_usagelog_close(log);
        log = fg_usagelog_open(path, "n1", &scan, &err);
        ok &= log != NULL && scan.records == 3 && !scan.has_torn_tail;
        fg_usagelog_close(log);
        if (!ok) {
            FG_TEST_FAIL("cut at %zu of %zu", cut, len);
        }
    }
    expect_true(ok);

    /* Cut exactly at a line boundary: nothing is torn. */
    spit(path, full, start);
    log = log_open(path, &scan);
    expect_int_eq(scan.records, 2);
    expect_int_eq(scan.has_torn_tail, 0);
    fg_usagelog_close(log);
    free(full);
}

static void
a_corrupt_byte_anywhere_in_the_last_line_is_a_torn_tail(void)
{
    char               path[128], *full, *copy;
    size_t             len, start, i;
    fg_usagelog_scan_t scan;
    fg_usagelog_t     *log;
    fg_err_t           err;
    int                ok = 1;

    fresh(path, sizeof(path), "flip.jsonl");
    log_write(path, 3);
    full = slurp(path, &len);
    start = last_line_start(full, len);
    copy = malloc(len);
    for (i = start; i < len && ok; i++) {
        memcpy(copy, full, len);
        copy[i] ^= 0x01;
        spit(path, copy, len);
        log = fg_usagelog_open(path, "n1", &scan, &err);
        ok &= log != NULL && scan.records == 2 && scan.has_torn_tail
              && scan.dropped_offset == start
              && file_size(path) == (long) start;
        if (!ok) {
            FG_TEST_FAIL("flip at %zu: %s", i, log == NULL ? err.msg : "");
        }
        fg_usagelog_close(log);
    }
    expect_true(ok);
    free(copy);
    free(full);
}

static void
a_tail_of_zeros_or_a_huge_garbage_line_is_cut(void)
{
    char               path[128], *full, *big;
    size_t             len;
    fg_usagelog_scan_t scan;
    fg_usagelog_t     *log;

    fresh(path, sizeof(path), "zeros.jsonl");
    log_write(path, 2);
    full = slurp(path, &len);
    big = calloc(1, len + 3 * FG_USAGELOG_LINE_MAX);
    memcpy(big, full, len);

    /* Zeros where the file grew but the data never reached the disk. */
    spit(path, big, len + 4096);
    log = log_open(path, &scan);
    expect_int_eq(scan.records, 2);
    expect_int_eq(scan.has_torn_tail, 1);
    expect_int_eq(scan.dropped_bytes, 4096);
    expect_int_eq(file_size(path), (long) len);
    fg_usagelog_close(log);

    /* A "line" longer than any record, then a short bad one. */
    memset(big + len, 'x', 2 * FG_USAGELOG_LINE_MAX);
    big[len + 2 * FG_USAGELOG_LINE_MAX] = '\n';
    memcpy(big + len + 2 * FG_USAGELOG_LINE_MAX + 1, "{}\n", 3);
    spit(path, big, len + 2 * FG_USAGELOG_LINE_MAX + 4);
    log = log_open(path, &scan);
    expect_int_eq(scan.records, 2);
    expect_int_eq(scan.has_torn_tail, 1);
    expect_int_eq(scan.dropped_offset, len);
    expect_int_eq(file_size(path), (long) len);
    fg_usagelog_close(log);
    free(big);
    free(full);
}

static void
a_bad_line_before_a_valid_one_is_refused_untouched(void)
{
    char               path[128], *full, *after;
    size_t             len, len_after, second;
    fg_usagelog_scan_t scan;
    collect_t          c;
    fg_err_t           err;

    fresh(path, sizeof(path), "middle.jsonl");
    log_write(path, 3);
    full = slurp(path, &len);
    second = (size_t) (strchr(full, '\n') - full) + 1;
    full[second + 20] ^= 0x20;                    /* inside line 2 */
    spit(path, full, len);

    expect_true(fg_usagelog_open(path, "n1", &scan, &err) == NULL);
    expect_true(strstr(err.msg, "damaged") != NULL);
    after = slurp(path, &len_after);
    expect_true(len_after == len && memcmp(after, full, len) == 0);
    free(after);

    memset(&c, 0, sizeof(c));
    expect_int_eq(fg_usagelog_read(path, collect_cb, &c, NULL, &err),
                  FG_ERR);
    expect_int_eq(c.n, 1);                        /* the prefix it saw */

    /* Over-long garbage in the middle is damage too. */
    {
        char  *big;
        size_t line1 = second;

        full[second + 20] ^= 0x20;
        big = malloc(len + 2 * FG_USAGELOG_LINE_MAX + 1);
        memcpy(big, full, line1);
        memset(big + line1, 'x', 2 * FG_USAGELOG_LINE_MAX);
        big[line1 + 2 * FG_USAGELOG_LINE_MAX] = '\n';
        memcpy(big + line1 + 2 * FG_USAGELOG_LINE_MAX + 1, full + line1,
               len - line1);
        spit(path, big, len + 2 * FG_USAGELOG_LINE_MAX + 1);
        expect_true(fg_usagelog_open(path, "n1", &scan, &err) == NULL);
        expect_int_eq(file_size(path),
                      (long) (len + 2 * FG_USAGELOG_LINE_MAX + 1));
        free(big);
    }
    free(full);
}

static void
a_seq_that_does_not_increase_within_its_ring_is_refused(void)
{
    char          a[128], b[128], *ta, *tb, *both;
    size_t        la, lb;
    fg_err_t      err;

    /* Two valid journals glued: ring 0 goes 1, 2, 3, then 1, 2 again. */
    fresh(a, sizeof(a), "glue-a.jsonl");
    fresh(b, sizeof(b), "glue-b.jsonl");
    log_write(a, 3);
    log_write(b, 2);
    ta = slurp(a, &la);
    tb = slurp(b, &lb);
    both = malloc(la + lb);
    memcpy(both, ta, la);
    memcpy(both + la, tb, lb);
    spit(a, both, la + lb);
    expect_true(fg_usagelog_open(a, "n1", NULL, &err) == NULL);
    expect_true(strstr(err.msg, "does not increase") != NULL);
    expect_int_eq(file_size(a), (long) (la + lb));
    free(both);
    free(ta);
    free(tb);
}

/*
 * A line another writer (or a later jansson) put in another member order
 * is as valid as ours: open's fast head check falls back to the parse.
 */
static void
a_line_in_another_member_order_is_still_a_record(void)
{
    char               path[128], line[2048];
    fg_usage_record_t  rec;
    fg_usagelog_scan_t scan;
    fg_usagelog_t     *log;
    collect_t          c;
    fg_err_t           err;
    json_t            *obj;
    size_t             n;
    FILE              *f;

    fresh(path, sizeof(path), "order.jsonl");
    log_write(path, 2);
    rec_make(&rec, 4, 9);
    obj = fg_usage_to_json(&rec);
    json_object_set_new(obj, "node", json_string("other-node"));
    json_object_set_new(obj, "v", json_integer(1));
    n = json_dumpb(obj, line, sizeof(line), JSON_COMPACT);
    json_decref(obj);
    snprintf(line + n - 1, sizeof(line) - (n - 1), ",\"crc\":\"%08x\"}\n",
             fg_frame_crc32c(0, line, n - 1));
    f = fopen(path, "ab");
    fputs(line, f);
    fclose(f);

    log = log_open(path, &scan);
    expect_int_eq(scan.records, 3);
    expect_int_eq(scan.has_torn_tail, 0);
    expect_int_eq(fg_usagelog_ring_seq(log, 4), 9);
    expect_int_eq(fg_usagelog_last_seq(log), 9);
    fg_usagelog_close(log);

    memset(&c, 0, sizeof(c));
    expect_int_eq(fg_usagelog_read(path, collect_cb, &c, NULL, &err), FG_OK);
    expect_int_eq(c.n, 3);
    expect_str_eq(c.node, "other-node");
    expect_true(memcmp(&c.recs[2], &rec, sizeof(rec)) == 0);
}

static void
a_failed_fdatasync_stays_failed(void)
{
    char              path[128];
    fg_usage_record_t rec;
    fg_usagelog_t    *log;
    fg_err_t          err;
    int               null_fd;

    fresh(path, sizeof(path), "fsync.jsonl");
    log = log_open(path, NULL);
    rec_make(&rec, 0, 1);
    expect_int_eq(fg_usagelog_append(log, &rec, 1, 0, NULL, &err), FG_OK);
    expect_int_eq(fg_usagelog_sync(log, &err), FG_OK);

    /* Swap the file for /dev/null: writes "succeed", fdatasync fails
     * (EINVAL), as a disk that took the data and lost it would. */
    null_fd = open("/dev/null", O_WRONLY);
    expect_true(dup2(null_fd, fg_usagelog_fd(log)) >= 0);
    close(null_fd);
    rec_make(&rec, 0, 2);
    expect_int_eq(fg_usagelog_append(log, &rec, 1, 0, NULL, &err), FG_OK);
    expect_int_eq(fg_usagelog_sync(log, &err), FG_ERR);
    expect_true(strstr(err.msg, "fdatasync") != NULL);
    expect_int_eq(fg_usagelog_has_failed(log), 1);

    /* Every later call fails with the first reason, even with nothing
     * pending: no retry may report success over lost pages. */
    rec_make(&rec, 0, 3);
    expect_int_eq(fg_usagelog_append(log, &rec, 1, 0, NULL, &err), FG_ERR);
    expect_true(strstr(err.msg, "fdatasync") != NULL);
    expect_int_eq(fg_usagelog_sync(log, &err), FG_ERR);
    expect_true(strstr(err.msg, "earlier failure") != NULL);
    fg_usagelog_close(log);
}

static void
a_failed_write_stays_failed_and_reopen_cuts_debris(void)
{
    char               path[128];
    fg_usage_record_t  recs[40];
    fg_usagelog_scan_t scan;
    fg_usagelog_t     *log;
    fg_err_t           err;
    struct rlimit      old, lim;
    size_t             i;
    long               before;
    pid_t              pid;
    int                status;

    fresh(path, sizeof(path), "efbig.jsonl");
    log_write(path, 2);
    before = file_size(path);

    /* In a child, so the limit and the ignored SIGXFSZ stay there. */
    pid = fork();
    if (pid == 0) {
        int ok = 1;

        signal(SIGXFSZ, SIG_IGN);
        getrlimit(RLIMIT_FSIZE, &old);
        lim = old;
        lim.rlim_cur = (rlim_t) before + 1000;    /* a line or two more */
        setrlimit(RLIMIT_FSIZE, &lim);
        log = fg_usagelog_open(path, "n1", NULL, &err);
        ok &= log != NULL;
        for (i = 0; i < 40; i++) {
            rec_make(&recs[i], 0, 3 + i);
        }
        ok &= fg_usagelog_append(log, recs, 40, 0, NULL, &err) == FG_ERR;
        ok &= strstr(err.msg, "write failed") != NULL;
        ok &= fg_usagelog_has_failed(log) == 1;
        ok &= fg_usagelog_append(log, recs, 1, 0, NULL, &err) == FG_ERR;
        ok &= fg_usagelog_sync(log, &err) == FG_ERR;
        fg_usagelog_close(log);
        _exit(ok ? 0 : 1);
    }
    waitpid(pid, &status, 0);
    expect_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    expect_true(file_size(path) > before);        /* part of the batch */

    log = log_open(path, &scan);
    expect_true(scan.records >= 2);
    expect_int_eq(file_size(path), (long) scan.valid_bytes);
    fg_usagelog_close(log);
}

static void
redelivered_records_are_written_once_per_ring(void)
{
    char               path[128];
    fg_usage_record_t  recs[8];
    fg_usagelog_scan_t scan;
    fg_usagelog_t     *log;
    fg_err_t           err;
    size_t             written, i;

    fresh(path, sizeof(path), "dedupe.jsonl");
    log = log_open(path, NULL);
    for (i = 0; i < 5; i++) {
        rec_make(&recs[i], 0, 10 + i);            /* ring 0: 10..14 */
    }
    expect_int_eq(fg_usagelog_append(log, recs, 5, 0, &written, &err),
                  FG_OK);
    expect_int_eq(written, 5);

    /* The syncer died before its commit: 12..14 come again, with 15. */
    for (i = 0; i < 4; i++) {
        rec_make(&recs[i], 0, 12 + i);
    }
    expect_int_eq(fg_usagelog_append(log, recs, 4, 0, &written, &err),
                  FG_OK);
    expect_int_eq(written, 1);
    expect_int_eq(fg_usagelog_duplicates(log), 3);

    /* Another ring's lower numbers are not duplicates. */
    rec_make(&recs[0], 1, 11);
    rec_make(&recs[1], 1, 11);                    /* twice in one batch */
    expect_int_eq(fg_usagelog_append(log, recs, 2, 0, &written, &err),
                  FG_OK);
    expect_int_eq(written, 1);
    expect_int_eq(fg_usagelog_sync(log, &err), FG_OK);
    fg_usagelog_close(log);

    /* After a reopen the state comes from the file. */
    log = log_open(path, &scan);
    expect_int_eq(scan.records, 7);
    for (i = 0; i < 3; i++) {
        rec_make(&recs[i], 0, 14 + i);            /* 14, 15 known; 16 new */
    }
    expect_int_eq(fg_usagelog_append(log, recs, 3, 0, &written, &err),
                  FG_OK);
    expect_int_eq(written, 1);
    expect_int_eq(fg_usagelog_ring_seq(log, 0), 16);
    expect_int_eq(fg_usagelog_ring_seq(log, 1), 11);

    /* Bad records change nothing. */
    rec_make(&recs[0], 0, 17);
    rec_make(&recs[1], 0, 0);
    expect_int_eq(fg_usagelog_append(log, recs, 2, 0, &written, &err),
                  FG_ERR);
    expect_int_eq(err.code, FG_E_INVALID_VALUE);
    rec_make(&recs[1], FG_USAGELOG_RINGS_MAX, 18);
    expect_int_eq(fg_usagelog_append(log, recs, 2, 0, &written, &err),
                  FG_ERR);
    expect_int_eq(fg_usagelog_ring_seq(log, 0), 16);
    expect_int_eq(fg_usagelog_has_failed(log), 0);
    fg_usagelog_close(log);
}

/*
 * End to end: records pushed onto rings, drained by a "syncer" that
 * appends them and dies before committing every other time; the next
 * syncer opens the journal again and drains the same records. The file
 * ends with each record exactly once.
 */
static void
a_syncer_dying_before_commit_loses_and_doubles_nothing(void)
{
    char               path[128];
    void              *mem;
    size_t             bytes = fg_usagering_bytes(2, 16), n, written;
    fg_usagering_t    *r;
    fg_usage_record_t  rec, out[16];
    fg_usagelog_t     *log;
    fg_usagelog_scan_t scan;
    fg_err_t           err;
    collect_t          c;
    unsigned           round, ring, i;

    fresh(path, sizeof(path), "e2e.jsonl");
    mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    r = fg_usagering_init(mem, bytes, 2, 16, &err);
    log = log_open(path, NULL);
    fg_usagering_raise_seq(r, fg_usagelog_last_seq(log) + 1);

    for (round = 0; round < 6; round++) {
        for (ring = 0; ring < 3; ring++) {
            for (i = 0; i < 3; i++) {
                rec_make(&rec, 0, 0);
                rec.prompt_tokens = round * 100 + ring * 10 + i;
                expect_int_eq(fg_usagering_push(r, ring, &rec, NULL), FG_OK);
            }
        }
        for (ring = 0; ring < 3; ring++) {
            expect_int_eq(fg_usagering_drain(r, ring, 0, out, 16, &n),
                          FG_OK);
            expect_int_eq(fg_usagelog_append(log, out, n, 0, &written,
                                             &err), FG_OK);
            expect_int_eq(fg_usagelog_sync(log, &err), FG_OK);
            if (round % 2 == 0) {
                expect_int_eq(fg_usagering_commit(r, ring, n), FG_OK);
            }
        }
        if (round % 2 == 1) {
            /* Died before the commits: a new syncer starts over. */
            fg_usagelog_close(log);
            log = log_open(path, NULL);
            fg_usagering_raise_seq(r, fg_usagelog_last_seq(log) + 1);
            for (ring = 0; ring < 3; ring++) {
                expect_int_eq(fg_usagering_drain(r, ring, 0, out, 16, &n),
                              FG_OK);
                expect_int_eq(n, 3);
                expect_int_eq(fg_usagelog_append(log, out, n, 0, &written,
                                                 &err), FG_OK);
                expect_int_eq(written, 0);
                expect_int_eq(fg_usagelog_sync(log, &err), FG_OK);
                expect_int_eq(fg_usagering_commit(r, ring, n), FG_OK);
            }
        }
    }
    fg_usagelog_close(log);

    memset(&c, 0, sizeof(c));
    expect_int_eq(fg_usagelog_read(path, collect_cb, &c, &scan, &err),
                  FG_OK);
    expect_int_eq(c.n, 6 * 3 * 3);
    for (i = 0; i < c.n; i++) {
        round = i / 9;
        ring = (i % 9) / 3;
        expect_int_eq(c.recs[i].prompt_tokens, round * 100 + ring * 10
                                               + i % 3);
        expect_int_eq(c.recs[i].seq, i + 1);
    }
    munmap(mem, bytes);
}

static void
group_commit_clock_starts_at_the_first_unsynced_record(void)
{
    char                 path[128];
    fg_usage_record_t    recs[4];
    fg_usagelog_policy_t policy = { 4, 50 };
    fg_usagelog_t       *log;
    fg_err_t             err;
    size_t               i;

    fresh(path, sizeof(path), "policy.jsonl");
    log = log_open(path, NULL);
    for (i = 0; i < 4; i++) {
        rec_make(&recs[i], 0, i + 1);
    }
    expect_int_eq(fg_usagelog_sync_wait_ms(log, &policy, 1000), -1);
    expect_int_eq(fg_usagelog_append(log, recs, 1, 1000, NULL, &err), FG_OK);
    expect_int_eq(fg_usagelog_sync_wait_ms(log, &policy, 1000), 50);
    /* A later append does not restart the clock. */
    expect_int_eq(fg_usagelog_append(log, recs + 1, 1, 1030, NULL, &err),
                  FG_OK);
    expect_int_eq(fg_usagelog_sync_wait_ms(log, &policy, 1030), 20);
    expect_int_eq(fg_usagelog_sync_wait_ms(log, &policy, 1050), 0);
    expect_int_eq(fg_usagelog_sync_wait_ms(log, &policy, 2000), 0);
    /* Or enough records: due at once. */
    expect_int_eq(fg_usagelog_append(log, recs + 2, 2, 1031, NULL, &err),
                  FG_OK);
    expect_int_eq(fg_usagelog_sync_wait_ms(log, &policy, 1031), 0);
    expect_int_eq(fg_usagelog_sync(log, &err), FG_OK);
    expect_int_eq(fg_usagelog_sync_wait_ms(log, &policy, 1031), -1);
    /* A sync with nothing pending is a no-op that succeeds. */
    expect_int_eq(fg_usagelog_sync(log, &err), FG_OK);
    fg_usagelog_close(log);
}

static void
open_refuses_a_bad_node_id(void)
{
    char     path[128];
    fg_err_t err;

    fresh(path, sizeof(path), "node.jsonl");
    expect_true(fg_usagelog_open(path, "", NULL, &err) == NULL);
    expect_true(fg_usagelog_open(path, "a b", NULL, &err) == NULL);
    expect_true(fg_usagelog_open(path, "n\"1", NULL, &err) == NULL);
    expect_true(fg_usagelog_open(path, NULL, NULL, &err) == NULL);
    expect_int_eq(err.code, FG_E_INVALID_VALUE);
    expect_int_eq(file_size(path), -1);           /* nothing created */
}

static void
the_reader_leaves_a_line_being_written_alone(void)
{
    char               path[128], *full;
    size_t             len;
    fg_usagelog_scan_t scan;
    collect_t          c;
    fg_err_t           err;

    fresh(path, sizeof(path), "reader.jsonl");
    memset(&c, 0, sizeof(c));
    expect_int_eq(fg_usagelog_read(path, collect_cb, &c, &scan, &err),
                  FG_OK);                         /* missing: empty */
    expect_int_eq(c.n, 0);

    log_write(path, 3);
    full = slurp(path, &len);
    spit(path, full, len - 7);
    expect_int_eq(fg_usagelog_read(path, collect_cb, &c, &scan, &err),
                  FG_OK);
    expect_int_eq(c.n, 2);
    expect_int_eq(scan.has_torn_tail, 1);
    expect_int_eq(file_size(path), (long) len - 7);   /* not truncated */
    free(full);
}

/* Appends the aggregation test's records. */
static void
agg_fixture(const char *path)
{
    fg_usage_record_t recs[6];
    fg_usagelog_t    *log = log_open(path, NULL);
    fg_err_t          err;
    int               i;

    for (i = 0; i < 6; i++) {
        rec_make(&recs[i], 0, (uint64_t) i + 1);
        recs[i].prompt_tokens = 100;
        recs[i].completion_tokens = 10;
        recs[i].reasoning_tokens = 2;
        recs[i].cached_tokens = 50;
        recs[i].charged_micro = 1000 + i;
        recs[i].energy_kwh = 0.25;
        recs[i].carbon_g_co2 = 2.0;
        recs[i].water_liters = 0.5;
    }
    /* 0, 1: key a, model x, day 1; 2: key a, model x, day 2;
     * 3: key b, model y, day 1, estimated; 4: key b, refused before
     * routing (requested model only), day 1; 5: key a, model x, the last
     * millisecond of day 1. */
    recs[2].started_unix_ms = DAY1 + DAY + 5;
    FG_USAGE_SET(recs[3].key_id, "key_b");
    FG_USAGE_SET(recs[3].model_served, "demo/y");
    recs[3].flags = FG_USAGE_ESTIMATED;
    FG_USAGE_SET(recs[4].key_id, "key_b");
    FG_USAGE_SET(recs[4].model_served, "");
    FG_USAGE_SET(recs[4].model_requested, "wanted-z");
    FG_USAGE_SET(recs[4].error_code, "BILLING_INSUFFICIENT_ENERGY");
    recs[4].status = 402;
    recs[4].prompt_tokens = 0;
    recs[4].completion_tokens = 0;
    recs[4].reasoning_tokens = 0;
    recs[4].cached_tokens = 0;
    recs[4].charged_micro = 0;
    recs[4].energy_kwh = 0;
    recs[4].carbon_g_co2 = 0;
    recs[4].water_liters = 0;
    recs[5].started_unix_ms = DAY1 + DAY - 1;
    for (i = 0; i < 6; i++) {
        if (i != 3 && i != 4) {
            FG_USAGE_SET(recs[i].key_id, "key_a");
            FG_USAGE_SET(recs[i].model_served, "demo/x");
        }
    }
    expect_int_eq(fg_usagelog_append(log, recs, 6, 0, NULL, &err), FG_OK);
    expect_int_eq(fg_usagelog_sync(log, &err), FG_OK);
    fg_usagelog_close(log);
}

static json_int_t
row_int(json_t *row, const char *name)
{
    return json_integer_value(json_object_get(row, name));
}

static const char *
row_str(json_t *row, const char *name)
{
    return json_string_value(json_object_get(row, name));
}

static void
aggregation_sums_per_key_model_and_day(void)
{
    char                 path[128];
    fg_err_t             err;
    json_t              *out, *rows, *row, *totals;

    fresh(path, sizeof(path), "agg.jsonl");
    agg_fixture(path);
    out = fg_usagelog_aggregate(path, NULL, &err);
    expect_true(out != NULL);
    if (out == NULL) {
        return;
    }
    rows = json_object_get(out, "rows");
    expect_int_eq(json_array_size(rows), 4);
    expect_int_eq(json_integer_value(json_object_get(out, "records")), 6);

    /* Sorted by day, key, model. */
    row = json_array_get(rows, 0);
    expect_str_eq(row_str(row, "day"), "2026-01-01");
    expect_str_eq(row_str(row, "key_id"), "key_a");
    expect_str_eq(row_str(row, "model"), "demo/x");
    expect_int_eq(row_int(row, "requests"), 3);
    expect_int_eq(row_int(row, "prompt_tokens"), 300);
    expect_int_eq(row_int(row, "completion_tokens"), 30);
    expect_int_eq(row_int(row, "reasoning_tokens"), 6);
    expect_int_eq(row_int(row, "cached_tokens"), 150);
    expect_int_eq(row_int(row, "charged_micro"), 1000 + 1001 + 1005);
    expect_true(json_real_value(json_object_get(row, "energy_kwh")) == 0.75);
    expect_true(json_real_value(json_object_get(row, "carbon_g_co2")) == 6.0);
    expect_true(json_real_value(json_object_get(row, "water_liters")) == 1.5);
    expect_int_eq(row_int(row, "estimated"), 0);
    expect_int_eq(row_int(row, "errors"), 0);

    row = json_array_get(rows, 1);
    expect_str_eq(row_str(row, "key_id"), "key_b");
    expect_str_eq(row_str(row, "model"), "demo/y");
    expect_int_eq(row_int(row, "estimated"), 1);

    row = json_array_get(rows, 2);
    expect_str_eq(row_str(row, "key_id"), "key_b");
    expect_str_eq(row_str(row, "model"), "wanted-z");
    expect_int_eq(row_int(row, "requests"), 1);
    expect_int_eq(row_int(row, "errors"), 1);
    expect_int_eq(row_int(row, "charged_micro"), 0);

    row = json_array_get(rows, 3);
    expect_str_eq(row_str(row, "day"), "2026-01-02");
    expect_str_eq(row_str(row, "key_id"), "key_a");
    expect_int_eq(row_int(row, "charged_micro"), 1002);

    totals = json_object_get(out, "totals");
    expect_int_eq(row_int(totals, "requests"), 6);
    expect_int_eq(row_int(totals, "prompt_tokens"), 500);
    expect_int_eq(row_int(totals, "charged_micro"),
                  1000 + 1001 + 1002 + 1003 + 1005);
    expect_true(json_real_value(json_object_get(totals, "energy_kwh"))
                == 1.25);
    expect_int_eq(row_int(totals, "errors"), 1);
    expect_true(json_object_get(totals, "key_id") == NULL);
    json_decref(out);
}

static void
aggregation_filters_by_key_and_day_range(void)
{
    char                 path[128];
    fg_usagelog_filter_t f;
    fg_err_t             err;
    json_t              *out;

    fresh(path, sizeof(path), "aggf.jsonl");
    agg_fixture(path);

    memset(&f, 0, sizeof(f));
    f.key_id = "key_a";
    out = fg_usagelog_aggregate(path, &f, &err);
    expect_int_eq(json_array_size(json_object_get(out, "rows")), 2);
    expect_int_eq(json_integer_value(json_object_get(out, "records")), 4);
    json_decref(out);

    f.day_from = "2026-01-02";
    out = fg_usagelog_aggregate(path, &f, &err);
    expect_int_eq(json_array_size(json_object_get(out, "rows")), 1);
    expect_int_eq(row_int(json_object_get(out, "totals"), "charged_micro"),
                  1002);
    json_decref(out);

    f.key_id = NULL;
    f.day_from = "2025-12-31";
    f.day_to = "2026-01-01";
    out = fg_usagelog_aggregate(path, &f, &err);
    expect_int_eq(json_integer_value(json_object_get(out, "records")), 5);
    json_decref(out);

    f.key_id = "key_nobody";
    f.day_from = f.day_to = NULL;
    out = fg_usagelog_aggregate(path, &f, &err);
    expect_int_eq(json_array_size(json_object_get(out, "rows")), 0);
    expect_int_eq(row_int(json_object_get(out, "totals"), "requests"), 0);
    json_decref(out);

    f.key_id = NULL;
    f.day_from = "2026-1-2";
    expect_true(fg_usagelog_aggregate(path, &f, &err) == NULL);
    expect_int_eq(err.code, FG_E_INVALID_VALUE);
    f.day_from = "2026-13-01";
    expect_true(fg_usagelog_aggregate(path, &f, &err) == NULL);

    /* A missing journal has no usage. */
    fresh(path, sizeof(path), "none.jsonl");
    out = fg_usagelog_aggregate(path, NULL, &err);
    expect_int_eq(json_array_size(json_object_get(out, "rows")), 0);
    json_decref(out);
}

/* ---- a journal of format 1 ------------------------------------------- */

/* The fixture copied into the test directory as @name; its bytes in
 * *@orig (malloc'd) and *@orig_len. */
static const char *
v1_copy(char *path, size_t size, const char *name, char **orig,
        size_t *orig_len)
{
    const char *root = getenv("FG_SRC_DIR");
    char        src[512];

    snprintf(src, sizeof(src), "%s%stests/fixtures/usage-v1.journal",
             root ? root : "", root ? "/" : "");
    *orig = slurp(src, orig_len);
    if (*orig == NULL || *orig_len == 0) {
        FG_TEST_FAIL("cannot read the fixture %s", src);
    }
    fresh(path, size, name);
    spit(path, *orig, *orig_len);
    return path;
}

static void
a_version_1_journal_reads_as_it_was_written(void)
{
    char               path[128], *orig;
    size_t             orig_len;
    collect_t          c;
    fg_usagelog_scan_t scan;
    fg_err_t           err;
    json_t            *agg;

    v1_copy(path, sizeof(path), "v1-read.journal", &orig, &orig_len);
    memset(&c, 0, sizeof(c));
    expect_int_eq(fg_usagelog_read(path, collect_cb, &c, &scan, &err), FG_OK);
    expect_int_eq(c.n, 4);
    expect_int_eq(scan.has_torn_tail, 0);
    expect_int_eq(scan.last_seq, 4);
    expect_str_eq(c.node, "n1");
    /* The one id of format 1 (the client's, cut at 40 bytes then). */
    expect_str_eq(c.recs[0].request_id,
                  "client-id-0123456789-0123456789-01234567");
    expect_str_eq(c.recs[0].client_request_id, "");
    expect_int_eq(c.recs[0].charged_micro, 1234);
    expect_int_eq(c.recs[0].cached_tokens, 2);
    expect_true(c.recs[0].energy_kwh == 2.31e-05);
    expect_int_eq(c.recs[0].flags, FG_USAGE_IMPACT_ESTIMATED);
    expect_int_eq(c.recs[0].api, FG_USAGE_API_CHAT);
    expect_int_eq(c.recs[0].attempts_n, 0);
    expect_str_eq(c.recs[1].model_requested, "we\"ird\\mod\xc3\xa9l");
    expect_int_eq(c.recs[1].flags, FG_USAGE_ESTIMATED | FG_USAGE_STREAM
                                   | FG_USAGE_CLIENT_GONE);
    expect_int_eq(c.recs[2].ring, 2);
    expect_int_eq(c.recs[2].flags, FG_USAGE_WORKER_LOST);
    expect_int_eq(c.recs[2].charged_micro, 5000);

    /* The aggregation counts it the same as before the upgrade. */
    agg = fg_usagelog_aggregate(path, NULL, &err);
    expect_true(agg != NULL);
    expect_int_eq(json_integer_value(json_object_get(
                      json_object_get(agg, "totals"), "charged_micro")),
                  1234 + 55 + 5000 + 2);
    expect_int_eq(json_integer_value(json_object_get(agg, "records")), 4);
    json_decref(agg);
    free(orig);
}

static void
format_2_lines_follow_a_version_1_journal_untouched(void)
{
    char               path[128], *orig, *now;
    size_t             orig_len, now_len, written;
    fg_usage_record_t  recs[2];
    fg_usagelog_scan_t scan;
    fg_usagelog_t     *log;
    collect_t          c;
    fg_err_t           err;

    v1_copy(path, sizeof(path), "v1-append.journal", &orig, &orig_len);
    log = log_open(path, &scan);
    expect_int_eq(scan.records, 4);
    expect_int_eq(scan.has_torn_tail, 0);
    expect_int_eq(fg_usagelog_last_seq(log), 4);
    expect_int_eq(fg_usagelog_ring_seq(log, 0), 4);
    /* A re-delivery of ring 0's seq 4 is still known as one. */
    rec_make(&recs[0], 0, 4);
    rec_make(&recs[1], 0, 5);
    FG_USAGE_SET(recs[1].client_request_id, "client-after-upgrade");
    recs[1].uncharged_micro = 17;
    expect_int_eq(fg_usagelog_append(log, recs, 2, 0, &written, &err),
                  FG_OK);
    expect_int_eq(written, 1);
    expect_int_eq(fg_usagelog_sync(log, &err), FG_OK);
    fg_usagelog_close(log);

    now = slurp(path, &now_len);
    expect_true(now_len > orig_len);
    expect_true(memcmp(now, orig, orig_len) == 0);
    expect_true(strncmp(now + orig_len, "{\"v\":2,", 7) == 0);

    memset(&c, 0, sizeof(c));
    expect_int_eq(fg_usagelog_read(path, collect_cb, &c, &scan, &err), FG_OK);
    expect_int_eq(c.n, 5);
    expect_true(memcmp(&c.recs[4], &recs[1], sizeof(recs[1])) == 0);
    log = log_open(path, &scan);
    expect_int_eq(scan.records, 5);
    fg_usagelog_close(log);
    free(orig);
    free(now);
}

static void
a_torn_tail_is_cut_in_either_format(void)
{
    char               path[128], *orig, *now;
    size_t             orig_len, now_len, written, cut;
    fg_usage_record_t  rec;
    fg_usagelog_scan_t scan;
    fg_usagelog_t     *log;
    fg_err_t           err;

    /* Format 1: the last line cut in its middle. */
    v1_copy(path, sizeof(path), "v1-torn.journal", &orig, &orig_len);
    cut = last_line_start(orig, orig_len);
    expect_int_eq(truncate(path, (off_t) (cut + 40)), 0);
    log = log_open(path, &scan);
    expect_int_eq(scan.has_torn_tail, 1);
    expect_int_eq(scan.records, 3);
    expect_int_eq(scan.dropped_offset, cut);
    expect_int_eq(file_size(path), (long) cut);
    fg_usagelog_close(log);

    /* Format 2 after format 1: the new line cut short of its newline. */
    spit(path, orig, orig_len);
    log = log_open(path, &scan);
    rec_make(&rec, 1, 9);
    expect_int_eq(fg_usagelog_append(log, &rec, 1, 0, &written, &err),
                  FG_OK);
    fg_usagelog_close(log);
    expect_int_eq(truncate(path, file_size(path) - 1), 0);
    log = log_open(path, &scan);
    expect_int_eq(scan.has_torn_tail, 1);
    expect_int_eq(scan.records, 4);
    expect_int_eq(scan.dropped_offset, orig_len);
    fg_usagelog_close(log);
    now = slurp(path, &now_len);
    expect_int_eq(now_len, orig_len);
    expect_true(memcmp(now, orig, orig_len) == 0);
    free(orig);
    free(now);
}


/* ---- rotation, retention, check and repair ----------------------------- */

/* Appends records @from..@to on ring 0 to @log and syncs. */
static void
log_append_range(fg_usagelog_t *log, unsigned from, unsigned to)
{
    fg_usage_record_t rec;
    fg_err_t          err;
    unsigned          i;

    for (i = from; i <= to; i++) {
        rec_make(&rec, 0, i);
        expect_int_eq(fg_usagelog_append(log, &rec, 1, 0, NULL, &err),
                      FG_OK);
    }
    expect_int_eq(fg_usagelog_sync(log, &err), FG_OK);
}

static void
a_roll_renames_the_file_and_the_aggregate_reads_every_file(void)
{
    char                path[128], rolled[160];
    fg_usagelog_t      *log;
    fg_usagelog_file_t *files = NULL;
    fg_usage_record_t   rec;
    fg_err_t            err;
    json_t             *agg;
    size_t              n = 0;

    fresh(path, sizeof(path), "roll.jsonl");
    log = log_open(path, NULL);
    expect_int_eq(fg_usagelog_file_id(log), 1);
    log_append_range(log, 1, 3);
    expect_int_eq(fg_usagelog_bytes(log), (long) file_size(path));
    expect_int_eq(fg_usagelog_roll(log, &err), FG_OK);
    expect_int_eq(fg_usagelog_file_id(log), 2);
    expect_int_eq(fg_usagelog_bytes(log), 0);
    expect_int_eq(file_size(path), 0);
    expect_int_eq(fg_usagelog_rolled_path(path, 1, rolled, sizeof(rolled)),
                  FG_OK);
    expect_true(strstr(rolled, "roll.jsonl.000001") != NULL);
    expect_true(file_size(rolled) > 0);
    log_append_range(log, 4, 5);

    /* Unsynced lines are never rolled. */
    rec_make(&rec, 0, 6);
    expect_int_eq(fg_usagelog_append(log, &rec, 1, 0, NULL, &err), FG_OK);
    expect_int_eq(fg_usagelog_roll(log, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_INVALID_VALUE);
    expect_int_eq(fg_usagelog_has_failed(log), 0);
    expect_int_eq(fg_usagelog_sync(log, &err), FG_OK);

    agg = fg_usagelog_aggregate(path, NULL, &err);
    expect_true(agg != NULL);
    expect_int_eq(json_integer_value(json_object_get(agg, "records")), 6);
    expect_int_eq(json_integer_value(json_object_get(agg, "files")), 2);
    json_decref(agg);
    expect_int_eq(fg_usagelog_list_rolled(path, &files, &n, &err), FG_OK);
    expect_int_eq(n, 1);
    expect_int_eq(n > 0 ? files[0].id : 0, 1);
    free(files);
    fg_usagelog_close(log);
    /* A reopen finds the id and the dedupe still refuses old seqs. */
    log = log_open(path, NULL);
    expect_int_eq(fg_usagelog_file_id(log), 2);
    expect_int_eq(fg_usagelog_last_seq(log), 6);
    fg_usagelog_close(log);
    unlink(rolled);
}

static void
a_reopen_after_a_roll_takes_the_last_seq_from_the_rolled_file(void)
{
    char           path[128], rolled[160];
    fg_usagelog_t *log;
    fg_err_t       err;

    fresh(path, sizeof(path), "rollseq.jsonl");
    log = log_open(path, NULL);
    log_append_range(log, 1, 7);
    expect_int_eq(fg_usagelog_roll(log, &err), FG_OK);
    fg_usagelog_close(log);
    log = log_open(path, NULL);
    expect_int_eq(fg_usagelog_last_seq(log), 7);
    expect_int_eq(fg_usagelog_file_id(log), 2);
    fg_usagelog_close(log);
    (void) fg_usagelog_rolled_path(path, 1, rolled, sizeof(rolled));
    unlink(rolled);
}

static void
retention_deletes_the_oldest_rolled_files_and_keeps_what_it_must(void)
{
    char                    path[128], rolled[160];
    fg_usagelog_t          *log;
    fg_usagelog_retention_t r;
    fg_usagelog_file_t     *files = NULL;
    fg_err_t                err;
    struct timespec         old[2];
    size_t                  n = 0;
    unsigned                id, deleted = 0;

    fresh(path, sizeof(path), "keep.jsonl");
    log = log_open(path, NULL);
    for (id = 1; id <= 4; id++) {
        log_append_range(log, id * 10, id * 10 + 2);
        expect_int_eq(fg_usagelog_roll(log, &err), FG_OK);
    }
    log_append_range(log, 50, 52);

    /* Off: nothing goes. */
    memset(&r, 0, sizeof(r));
    r.keep_from_id = fg_usagelog_file_id(log);
    expect_int_eq(fg_usagelog_retain(log, &r, 0, &deleted, &err), FG_OK);
    expect_int_eq(deleted, 0);

    /* By age: files 1 and 2 are three days old, 3 and 4 new. */
    old[0].tv_sec = old[1].tv_sec = time(NULL) - 3 * 86400;
    old[0].tv_nsec = old[1].tv_nsec = 0;
    for (id = 1; id <= 2; id++) {
        (void) fg_usagelog_rolled_path(path, id, rolled, sizeof(rolled));
        expect_int_eq(utimensat(AT_FDCWD, rolled, old, 0), 0);
    }
    r.max_age_s = 2 * 86400;
    expect_int_eq(fg_usagelog_retain(log, &r, time(NULL), &deleted, &err),
                  FG_OK);
    expect_int_eq(deleted, 2);

    /* By size: everything over 1 byte, but never file 4 (needed) nor the
     * current one. */
    r.max_age_s = 0;
    r.max_bytes = 1;
    r.keep_from_id = 4;
    expect_int_eq(fg_usagelog_retain(log, &r, time(NULL), &deleted, &err),
                  FG_OK);
    expect_int_eq(deleted, 1);
    expect_int_eq(fg_usagelog_list_rolled(path, &files, &n, &err), FG_OK);
    expect_int_eq(n, 1);
    expect_int_eq(n > 0 ? files[0].id : 0, 4);
    free(files);
    /* Nothing needed any more: still never the newest rolled file, whose
     * id the next open numbers on from. */
    r.keep_from_id = fg_usagelog_file_id(log) + 10;
    expect_int_eq(fg_usagelog_retain(log, &r, time(NULL), &deleted, &err),
                  FG_OK);
    expect_int_eq(deleted, 0);
    expect_int_eq(fg_usagelog_list_rolled(path, &files, &n, &err), FG_OK);
    expect_int_eq(n, 1);
    free(files);
    expect_true(file_size(path) > 0);
    fg_usagelog_close(log);
}

static void
store_check_finds_mid_file_damage_and_repair_keeps_what_precedes_it(void)
{
    char             path[128], aside[256];
    char            *full;
    size_t           len, n = 0, third;
    fg_usagecheck_t *files = NULL;
    fg_usagelog_scan_t scan;
    fg_err_t         err;
    fg_usagelog_t   *log;

    fresh(path, sizeof(path), "damaged.jsonl");
    log_write(path, 5);
    full = slurp(path, &len);
    /* The third line's first digit of latency changes: its CRC fails. */
    third = (size_t) (strchr(strchr(full, '\n') + 1, '\n') + 1 - full);
    {
        char *lat = strstr(full + third, "\"latency_us\":") + 13;

        *lat = *lat == '9' ? '8' : (char) (*lat + 1);
    }
    spit(path, full, len);
    expect_true(fg_usagelog_open(path, "n1", NULL, &err) == NULL);

    expect_int_eq(fg_usagecheck_all(path, &files, &n, &err), FG_OK);
    expect_int_eq(n, 1);
    expect_int_eq(files[0].is_current, 1);
    expect_int_eq(files[0].is_damaged, 1);
    expect_int_eq(files[0].damaged_offset, third);
    expect_int_eq(files[0].records, 2);
    expect_true(strstr(files[0].problem, "damaged") != NULL);

    expect_int_eq(fg_usagecheck_repair(&files[0], 1767225600, aside,
                                       sizeof(aside), &err), FG_OK);
    expect_true(strstr(aside, ".damaged-20260101T000000Z") != NULL);
    expect_int_eq(file_size(aside), (long) len);
    expect_int_eq(file_size(path), (long) third);
    log = log_open(path, &scan);
    expect_int_eq(scan.records, 2);
    fg_usagelog_close(log);
    free(files);
    free(full);
    unlink(aside);
}

/* ---- main ------------------------------------------------------------- */

static void
cleanup(void)
{
    DIR           *d = opendir(test_dir);
    struct dirent *e;
    char           path[512];

    if (d == NULL) {
        return;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
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
        FG_TEST_CASE(appended_records_come_back_after_a_reopen),
        FG_TEST_CASE(each_line_is_json_with_a_crc_of_what_precedes_it),
        FG_TEST_CASE(a_torn_last_line_is_cut_at_every_offset_then_appended),
        FG_TEST_CASE(a_corrupt_byte_anywhere_in_the_last_line_is_a_torn_tail),
        FG_TEST_CASE(a_tail_of_zeros_or_a_huge_garbage_line_is_cut),
        FG_TEST_CASE(a_bad_line_before_a_valid_one_is_refused_untouched),
        FG_TEST_CASE(a_seq_that_does_not_increase_within_its_ring_is_refused),
        FG_TEST_CASE(a_line_in_another_member_order_is_still_a_record),
        FG_TEST_CASE(a_failed_fdatasync_stays_failed),
        FG_TEST_CASE(a_failed_write_stays_failed_and_reopen_cuts_debris),
        FG_TEST_CASE(redelivered_records_are_written_once_per_ring),
        FG_TEST_CASE(a_syncer_dying_before_commit_loses_and_doubles_nothing),
        FG_TEST_CASE(group_commit_clock_starts_at_the_first_unsynced_record),
        FG_TEST_CASE(open_refuses_a_bad_node_id),
        FG_TEST_CASE(the_reader_leaves_a_line_being_written_alone),
        FG_TEST_CASE(aggregation_sums_per_key_model_and_day),
        FG_TEST_CASE(aggregation_filters_by_key_and_day_range),
        FG_TEST_CASE(a_version_1_journal_reads_as_it_was_written),
        FG_TEST_CASE(format_2_lines_follow_a_version_1_journal_untouched),
        FG_TEST_CASE(a_torn_tail_is_cut_in_either_format),
        FG_TEST_CASE(a_roll_renames_the_file_and_the_aggregate_reads_every_file),
        FG_TEST_CASE(a_reopen_after_a_roll_takes_the_last_seq_from_the_rolled_file),
        FG_TEST_CASE(retention_deletes_the_oldest_rolled_files_and_keeps_what_it_must),
        FG_TEST_CASE(store_check_finds_mid_file_damage_and_repair_keeps_what_precedes_it),
    };
    int rc;

    snprintf(test_dir, sizeof(test_dir), "/tmp/fg-usagelog-XXXXXX");
    if (mkdtemp(test_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    rc = fg_test_run("usagelog", cases, sizeof(cases) / sizeof(cases[0]));
    cleanup();
    return rc;
}
