/*
 * journal.c: the append-only journal and the snapshots of the durable
 * embedded store.
 *
 * The journal is written by one process, one record per writev(2) with
 * O_APPEND, and made durable in batches by fg_journal_sync(). Records are
 * self-describing (magic, length, CRC-32C over everything after the CRC),
 * so replay needs no index and can tell a torn tail from corruption:
 *
 * 1) A crash while appending leaves at most the last record incomplete,
 *    or a tail of zeros where the file grew but the data never reached
 *    the disk. Either way no valid record follows the first invalid byte,
 *    so replay cuts the file there (Redis's aof-load-truncated) and says
 *    how much it dropped; the next append then follows a valid record.
 * 2) An invalid record with a valid one after it cannot come from a
 *    crash of an append-only writer: it is damage. Replay refuses it
 *    rather than guess which records to trust.
 *
 * Invariants: the file always ends on a record boundary before an append
 * (fg_journal_open() refuses a file that does not, and a failed write
 * makes the journal unusable); sequence numbers strictly increase within
 * a file, across rotation too (the ROTATED record carries the sequence
 * on); once a write or fdatasync failed, nothing more is written
 * (reliability.md 3.3: after EIO a retried fsync can report success for
 * pages the kernel already dropped, so we stop rather than pretend).
 *
 * The CRC (CRC-32C), the scan and the torn-tail cut are common/store/
 * frame.h's, shared with the usage journal; this file says what a record
 * is (journal_check) and what its sequence must do.
 *
 * Snapshots reuse the framing, are written beside the target and renamed
 * over it, and are read strictly: any invalid byte is an error, since the
 * rename makes a torn snapshot impossible.
 *
 * This file does not decide record types or payloads, when to sync, or
 * when to snapshot: that is the store's business.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/base/alloc.h"
#include "common/base/durable.h"
#include "common/store/frame.h"
#include "common/store/journal.h"

typedef int (*journal_scan_cb)(const fg_journal_entry_t *e, void *arg,
                               fg_err_t *err);

typedef struct {
    journal_scan_cb    cb;
    void              *arg;
    fg_replay_stats_t *st;
    int                has_seq;
    const char        *path;
} journal_scan_ctx_t;

typedef struct {
    fg_journal_replay_cb cb;
    void                *arg;
    uint64_t             records;
} journal_replay_ctx_t;

typedef struct {
    fg_journal_replay_cb cb;
    void                *arg;
    uint64_t             entries;
    uint64_t             covered_seq;
    int                  has_begin;
    int                  has_end;
    const char          *path;
} journal_snapshot_ctx_t;

static uint32_t journal_le32(const uint8_t *p);
static uint64_t journal_le64(const uint8_t *p);
static void journal_put32(uint8_t *p, uint32_t v);
static void journal_put64(uint8_t *p, uint64_t v);
static void journal_encode(uint8_t h[FG_JOURNAL_HEADER_BYTES], uint32_t type,
                           uint64_t seq, int64_t time_ms,
                           const void *payload, size_t len);
static fg_frame_verdict_t journal_check(const uint8_t *p, size_t avail,
                                        int is_eof, size_t *len, void *arg);
static int journal_deliver(const uint8_t *rec, size_t len, uint64_t offset,
                           void *arg, fg_err_t *err);
static int journal_scan(int fd, const char *path, journal_scan_cb cb,
                        void *arg, fg_replay_stats_t *st, fg_err_t *err);
static int journal_ignore(const fg_journal_entry_t *e, void *arg,
                          fg_err_t *err);
static int journal_replay_deliver(const fg_journal_entry_t *e, void *arg,
                                  fg_err_t *err);
static int journal_snapshot_deliver(const fg_journal_entry_t *e, void *arg,
                                    fg_err_t *err);
static ssize_t journal_write_record(int fd, const uint8_t *h,
                                    const void *payload, size_t len);
static int journal_fail(fg_journal_t *j, fg_err_t *err, const char *fmt,
                        ...) __attribute__((format(printf, 3, 4)));
static int journal_check_failed(const fg_journal_t *j, fg_err_t *err);
static int journal_snapshot_put(fg_journal_snapshot_t *s, uint32_t type,
                                uint64_t seq, const void *payload,
                                size_t len, fg_err_t *err);

static uint32_t
journal_le32(const uint8_t *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
           | (uint32_t) p[3] << 24;
}

static uint64_t
journal_le64(const uint8_t *p)
{
    return (uint64_t) journal_le32(p) | (uint64_t) journal_le32(p + 4) << 32;
}

static void
journal_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) v;
    p[1] = (uint8_t) (v >> 8);
    p[2] = (uint8_t) (v >> 16);
    p[3] = (uint8_t) (v >> 24);
}

static void
journal_put64(uint8_t *p, uint64_t v)
{
    journal_put32(p, (uint32_t) v);
    journal_put32(p + 4, (uint32_t) (v >> 32));
}

static void
journal_encode(uint8_t h[FG_JOURNAL_HEADER_BYTES], uint32_t type,
               uint64_t seq, int64_t time_ms, const void *payload, size_t len)
{
    uint32_t crc;

    journal_put32(h, FG_JOURNAL_MAGIC);
    journal_put32(h + 8, (uint32_t) len);
    journal_put32(h + 12, type);
    journal_put64(h + 16, seq);
    journal_put64(h + 24, (uint64_t) time_ms);
    crc = fg_frame_crc32c(0, h + 8, FG_JOURNAL_HEADER_BYTES - 8);
    crc = fg_frame_crc32c(crc, payload, len);
    journal_put32(h + 4, crc);
}

static const fg_frame_format_t journal_format = {
    "record", FG_JOURNAL_HEADER_BYTES + FG_JOURNAL_PAYLOAD_MAX, journal_check
};

/*
 * A record at @p: the magic, a length within bounds, the whole payload
 * and a matching CRC. Anything else is not one, and the next candidate
 * is the next byte (the scan looks for the magic again).
 */
static fg_frame_verdict_t
journal_check(const uint8_t *p, size_t avail, int is_eof, size_t *len,
              void *arg)
{
    uint32_t n;

    (void) arg;
    *len = 1;
    if (avail < FG_JOURNAL_HEADER_BYTES) {
        if (is_eof) {
            return FG_FRAME_INVALID;
        }
        *len = FG_JOURNAL_HEADER_BYTES;
        return FG_FRAME_MORE;
    }
    n = journal_le32(p + 8);
    if (journal_le32(p) != FG_JOURNAL_MAGIC || n > FG_JOURNAL_PAYLOAD_MAX) {
        return FG_FRAME_INVALID;
    }
    if (avail < FG_JOURNAL_HEADER_BYTES + n) {
        if (is_eof) {
            return FG_FRAME_INVALID;
        }
        *len = FG_JOURNAL_HEADER_BYTES + n;
        return FG_FRAME_MORE;
    }
    if (fg_frame_crc32c(0, p + 8, FG_JOURNAL_HEADER_BYTES - 8 + n)
        != journal_le32(p + 4)) {
        return FG_FRAME_INVALID;
    }
    *len = FG_JOURNAL_HEADER_BYTES + n;
    return FG_FRAME_VALID;
}

/* A valid record: its sequence must increase; then the caller's turn. */
static int
journal_deliver(const uint8_t *rec, size_t len, uint64_t offset, void *arg,
                fg_err_t *err)
{
    journal_scan_ctx_t *ctx = arg;
    fg_journal_entry_t  e;

    e.type = journal_le32(rec + 12);
    e.seq = journal_le64(rec + 16);
    e.time_ms = (int64_t) journal_le64(rec + 24);
    e.payload = rec + FG_JOURNAL_HEADER_BYTES;
    e.len = len - FG_JOURNAL_HEADER_BYTES;
    e.offset = offset;
    if (ctx->has_seq && e.seq <= ctx->st->last_seq) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "%s: sequence %llu at offset %llu does not follow "
                          "%llu", ctx->path, (unsigned long long) e.seq,
                          (unsigned long long) offset,
                          (unsigned long long) ctx->st->last_seq);
    }
    if (ctx->cb(&e, ctx->arg, err) != FG_OK) {
        return FG_ERR;
    }
    ctx->has_seq = 1;
    ctx->st->last_seq = e.seq;
    return FG_OK;
}

/*
 * Hands every valid record of the file open at @fd to @cb, in order, and
 * classifies what follows the last one (frame.h): a torn tail is
 * reported in @st, corruption in the middle is FG_ERR.
 */
static int
journal_scan(int fd, const char *path, journal_scan_cb cb, void *arg,
             fg_replay_stats_t *st, fg_err_t *err)
{
    journal_scan_ctx_t ctx = { cb, arg, st, 0, path };
    fg_frame_scan_t    fs;

    memset(st, 0, sizeof(*st));
    if (fg_frame_scan(fd, path, &journal_format, journal_deliver, &ctx, &fs,
                      err) != FG_OK) {
        return FG_ERR;
    }
    st->valid_bytes = fs.valid_bytes;
    st->has_torn_tail = fs.has_torn_tail;
    st->dropped_offset = fs.dropped_offset;
    st->dropped_bytes = fs.dropped_bytes;
    return FG_OK;
}

static int
journal_ignore(const fg_journal_entry_t *e, void *arg, fg_err_t *err)
{
    (void) e;
    (void) arg;
    (void) err;
    return FG_OK;
}

static int
journal_replay_deliver(const fg_journal_entry_t *e, void *arg, fg_err_t *err)
{
    journal_replay_ctx_t *ctx = arg;

    if (e->type >= FG_JOURNAL_TYPE_RESERVED) {
        return FG_OK;
    }
    ctx->records++;
    return ctx->cb != NULL ? ctx->cb(e, ctx->arg, err) : FG_OK;
}

static ssize_t
journal_write_record(int fd, const uint8_t *h, const void *payload,
                     size_t len)
{
    struct iovec iov[2];
    ssize_t      w;

    /* writev only reads the buffers; iovec has no const member. */
    iov[0].iov_base = (void *) (uintptr_t) h;
    iov[0].iov_len = FG_JOURNAL_HEADER_BYTES;
    iov[1].iov_base = (void *) (uintptr_t) payload;
    iov[1].iov_len = len;
    do {
        w = writev(fd, iov, len > 0 ? 2 : 1);
    } while (w < 0 && errno == EINTR);
    return w;
}

/* Marks @j failed for good with the formatted reason, and reports it. */
static int
journal_fail(fg_journal_t *j, fg_err_t *err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(j->failure, sizeof(j->failure), fmt, ap);
    va_end(ap);
    j->has_failed = 1;
    return fg_err_set(err, FG_E_INTERNAL, NULL, "journal %s: %s", j->path,
                      j->failure);
}

static int
journal_check_failed(const fg_journal_t *j, fg_err_t *err)
{
    if (j->has_failed) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "journal %s is unusable after an earlier failure "
                          "(%s); restart to replay it", j->path,
                          j->failure);
    }
    if (j->fd < 0) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "journal is not open");
    }
    return FG_OK;
}

int
fg_journal_open(const char *path, fg_journal_t *j, fg_err_t *err)
{
    fg_replay_stats_t st;
    int               fd, is_created = 0;

    memset(j, 0, sizeof(*j));
    j->fd = -1;
    if (strlen(path) + sizeof(".tmp") > sizeof(j->path)) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "path too long: %s",
                          path);
    }
    snprintf(j->path, sizeof(j->path), "%s", path);

    fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
        fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC
                        | O_NOFOLLOW, 0600);
        is_created = 1;
    }
    if (fd < 0) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "open(\"%s\") failed: %s", path, strerror(errno));
    }
    if ((is_created && fg_fsync_dir_of(path, err) != FG_OK)
        || journal_scan(fd, path, journal_ignore, NULL, &st, err) != FG_OK) {
        close(fd);
        return FG_ERR;
    }
    if (st.has_torn_tail) {
        close(fd);
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "journal %s has %llu bytes of torn tail at offset "
                          "%llu; replay it first", path,
                          (unsigned long long) st.dropped_bytes,
                          (unsigned long long) st.dropped_offset);
    }
    j->fd = fd;
    j->next_seq = st.last_seq + 1;
    j->size_bytes = st.valid_bytes;
    return FG_OK;
}

int
fg_journal_append(fg_journal_t *j, uint32_t type, const void *payload,
                  size_t len, int64_t now_ms, fg_err_t *err)
{
    uint8_t h[FG_JOURNAL_HEADER_BYTES];
    ssize_t w;

    if (journal_check_failed(j, err) != FG_OK) {
        return FG_ERR;
    }
    if (type >= FG_JOURNAL_TYPE_RESERVED) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "journal record type 0x%x is reserved", type);
    }
    if (len > FG_JOURNAL_PAYLOAD_MAX) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, NULL,
                          "journal payload of %zu bytes, at most %u", len,
                          FG_JOURNAL_PAYLOAD_MAX);
    }

    journal_encode(h, type, j->next_seq, now_ms, payload, len);
    w = journal_write_record(j->fd, h, payload, len);
    if (w < 0) {
        return journal_fail(j, err, "writev failed: %s", strerror(errno));
    }
    if ((size_t) w != FG_JOURNAL_HEADER_BYTES + len) {
        return journal_fail(j, err, "short write (%zd of %zu bytes)", w,
                            FG_JOURNAL_HEADER_BYTES + len);
    }
    j->next_seq++;
    j->size_bytes += (uint64_t) w;
    j->unsynced++;
    return FG_OK;
}

int
fg_journal_sync(fg_journal_t *j, fg_err_t *err)
{
    if (journal_check_failed(j, err) != FG_OK) {
        return FG_ERR;
    }
    if (fdatasync(j->fd) != 0) {
        return journal_fail(j, err, "fdatasync failed: %s", strerror(errno));
    }
    j->unsynced = 0;
    return FG_OK;
}

int
fg_journal_rotate(fg_journal_t *j, uint64_t covered_seq, fg_err_t *err)
{
    char     tmp[FG_JOURNAL_PATH_MAX];
    uint8_t  h[FG_JOURNAL_HEADER_BYTES];
    uint64_t seq;
    ssize_t  w;
    int      fd;

    if (journal_check_failed(j, err) != FG_OK) {
        return FG_ERR;
    }
    if (j->next_seq - 1 > covered_seq) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "journal %s holds records up to %llu but the "
                          "snapshot covers only %llu", j->path,
                          (unsigned long long) (j->next_seq - 1),
                          (unsigned long long) covered_seq);
    }
    if (covered_seq == UINT64_MAX) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, NULL,
                          "snapshot covers sequence %llu, the last there is",
                          (unsigned long long) covered_seq);
    }

    /*
     * Recovery replays only what is above the snapshot's sequence, so the
     * new journal starts above it even when the snapshot covers more than
     * this journal held (the journal was lost, say).
     */
    seq = covered_seq + 1 > j->next_seq ? covered_seq + 1 : j->next_seq;
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", j->path) >= (int) sizeof(tmp)) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "path too long: %s",
                          j->path);
    }
    fd = open(tmp, O_RDWR | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC
                   | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "open(\"%s\") failed: %s", tmp, strerror(errno));
    }

    /* Until the rename, the old journal is intact and still in use. */
    journal_encode(h, FG_JOURNAL_TYPE_ROTATED, seq, 0, "", 0);
    w = journal_write_record(fd, h, "", 0);
    if (w != FG_JOURNAL_HEADER_BYTES || fdatasync(fd) != 0
        || rename(tmp, j->path) != 0) {
        fg_err_set(err, FG_E_INTERNAL, NULL,
                   "writing the rotated journal %s failed: %s", tmp,
                   w < 0 || w == FG_JOURNAL_HEADER_BYTES ? strerror(errno)
                                                         : "short write");
        close(fd);
        unlink(tmp);
        return FG_ERR;
    }
    close(j->fd);
    j->fd = fd;
    j->next_seq = seq + 1;
    j->size_bytes = FG_JOURNAL_HEADER_BYTES;
    j->unsynced = 0;
    if (fg_fsync_dir_of(j->path, err) != FG_OK) {
        return journal_fail(j, err, "directory fsync after rotation failed");
    }
    return FG_OK;
}

void
fg_journal_close(fg_journal_t *j)
{
    if (j != NULL && j->fd >= 0) {
        close(j->fd);
        j->fd = -1;
    }
}

int
fg_journal_replay(const char *path, fg_journal_replay_cb cb, void *arg,
                  fg_replay_stats_t *stats, fg_err_t *err)
{
    journal_replay_ctx_t ctx = { cb, arg, 0 };
    fg_replay_stats_t    st;
    int                  fd, rc;

    memset(&st, 0, sizeof(st));
    fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
        if (stats != NULL) {
            *stats = st;
        }
        return FG_OK;
    }
    if (fd < 0) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "open(\"%s\") failed: %s", path, strerror(errno));
    }
    rc = journal_scan(fd, path, journal_replay_deliver, &ctx, &st, err);
    if (rc == FG_OK && st.has_torn_tail) {
        fg_frame_scan_t cut = { .valid_bytes = st.valid_bytes,
                                .has_torn_tail = 1,
                                .dropped_offset = st.dropped_offset,
                                .dropped_bytes = st.dropped_bytes };

        rc = fg_frame_cut(fd, path, &cut, err);
    }
    close(fd);
    st.records = ctx.records;
    if (stats != NULL) {
        *stats = st;
    }
    return rc;
}

static int
journal_snapshot_put(fg_journal_snapshot_t *s, uint32_t type, uint64_t seq,
                     const void *payload, size_t len, fg_err_t *err)
{
    uint8_t h[FG_JOURNAL_HEADER_BYTES];

    journal_encode(h, type, seq, s->time_ms, payload, len);
    if (fwrite(h, 1, sizeof(h), s->f) != sizeof(h)
        || (len > 0 && fwrite(payload, 1, len, s->f) != len)) {
        fg_err_set(err, FG_E_INTERNAL, NULL, "writing %s failed: %s",
                   s->tmp, strerror(errno));
        fg_journal_snapshot_abort(s);
        return FG_ERR;
    }
    return FG_OK;
}

int
fg_journal_snapshot_begin(fg_journal_snapshot_t *s, const char *path,
                          uint64_t covered_seq, int64_t now_ms,
                          fg_err_t *err)
{
    uint8_t covered[8];
    int     fd;

    memset(s, 0, sizeof(*s));
    if (strlen(path) + sizeof(".tmp") > sizeof(s->tmp)) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "path too long: %s",
                          path);
    }
    snprintf(s->path, sizeof(s->path), "%s", path);
    snprintf(s->tmp, sizeof(s->tmp), "%s.tmp", path);
    s->time_ms = now_ms;

    fd = open(s->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
              0600);
    if (fd < 0) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "open(\"%s\") failed: %s", s->tmp,
                          strerror(errno));
    }
    s->f = fdopen(fd, "w");
    if (s->f == NULL) {
        fg_err_set(err, FG_E_INTERNAL, NULL, "fdopen(\"%s\") failed: %s",
                   s->tmp, strerror(errno));
        close(fd);
        unlink(s->tmp);
        return FG_ERR;
    }
    journal_put64(covered, covered_seq);
    return journal_snapshot_put(s, FG_JOURNAL_TYPE_SNAPSHOT_BEGIN, 0,
                                covered, sizeof(covered), err);
}

int
fg_journal_snapshot_add(fg_journal_snapshot_t *s, uint32_t type,
                        const void *payload, size_t len, fg_err_t *err)
{
    if (s->f == NULL) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "snapshot %s is not open", s->path);
    }
    if (type >= FG_JOURNAL_TYPE_RESERVED || len > FG_JOURNAL_PAYLOAD_MAX) {
        fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                   "snapshot entry of type 0x%x and %zu bytes is not "
                   "allowed", type, len);
        fg_journal_snapshot_abort(s);
        return FG_ERR;
    }
    s->records++;
    return journal_snapshot_put(s, type, s->records, payload, len, err);
}

int
fg_journal_snapshot_commit(fg_journal_snapshot_t *s, fg_err_t *err)
{
    uint8_t count[8];
    int     rc;

    if (s->f == NULL) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "snapshot %s is not open", s->path);
    }
    journal_put64(count, s->records);
    if (journal_snapshot_put(s, FG_JOURNAL_TYPE_SNAPSHOT_END, s->records + 1,
                             count, sizeof(count), err) != FG_OK) {
        return FG_ERR;
    }
    if (fflush(s->f) != 0 || fsync(fileno(s->f)) != 0) {
        fg_err_set(err, FG_E_INTERNAL, NULL, "flushing %s failed: %s",
                   s->tmp, strerror(errno));
        fg_journal_snapshot_abort(s);
        return FG_ERR;
    }
    rc = fclose(s->f);
    s->f = NULL;
    if (rc != 0 || rename(s->tmp, s->path) != 0) {
        fg_err_set(err, FG_E_INTERNAL, NULL,
                   "replacing %s with %s failed: %s", s->path, s->tmp,
                   strerror(errno));
        unlink(s->tmp);
        return FG_ERR;
    }
    return fg_fsync_dir_of(s->path, err);
}

void
fg_journal_snapshot_abort(fg_journal_snapshot_t *s)
{
    if (s->f != NULL) {
        fclose(s->f);
        s->f = NULL;
        unlink(s->tmp);
    }
}

int
fg_journal_snapshot_write(const char *path, const fg_journal_entry_t *entries,
                          size_t n, uint64_t covered_seq, int64_t now_ms,
                          fg_err_t *err)
{
    fg_journal_snapshot_t s;
    size_t                i;

    if (fg_journal_snapshot_begin(&s, path, covered_seq, now_ms, err)
        != FG_OK) {
        return FG_ERR;
    }
    for (i = 0; i < n; i++) {
        if (fg_journal_snapshot_add(&s, entries[i].type, entries[i].payload,
                                    entries[i].len, err) != FG_OK) {
            return FG_ERR;
        }
    }
    return fg_journal_snapshot_commit(&s, err);
}

/*
 * Checks the snapshot's shape record by record: BEGIN first, entries,
 * END last with the entry count, nothing after it.
 */
static int
journal_snapshot_deliver(const fg_journal_entry_t *e, void *arg,
                         fg_err_t *err)
{
    journal_snapshot_ctx_t *ctx = arg;

    if (ctx->has_end) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "snapshot %s has a record after its end", ctx->path);
    }
    if (!ctx->has_begin) {
        if (e->type != FG_JOURNAL_TYPE_SNAPSHOT_BEGIN || e->len != 8) {
            return fg_err_set(err, FG_E_INTERNAL, NULL,
                              "snapshot %s does not start with a snapshot "
                              "header", ctx->path);
        }
        ctx->covered_seq = journal_le64(e->payload);
        ctx->has_begin = 1;
        return FG_OK;
    }
    if (e->type == FG_JOURNAL_TYPE_SNAPSHOT_END) {
        if (e->len != 8 || journal_le64(e->payload) != ctx->entries) {
            return fg_err_set(err, FG_E_INTERNAL, NULL,
                              "snapshot %s ends with a bad entry count",
                              ctx->path);
        }
        ctx->has_end = 1;
        return FG_OK;
    }
    if (e->type >= FG_JOURNAL_TYPE_RESERVED) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "snapshot %s holds a record of reserved type 0x%x",
                          ctx->path, e->type);
    }
    ctx->entries++;
    return ctx->cb != NULL ? ctx->cb(e, ctx->arg, err) : FG_OK;
}

int
fg_journal_snapshot_read(const char *path, fg_journal_replay_cb cb,
                         void *arg, uint64_t *covered_seq, fg_err_t *err)
{
    journal_snapshot_ctx_t ctx;
    fg_replay_stats_t      st;
    int                    fd, rc;

    *covered_seq = 0;
    memset(&ctx, 0, sizeof(ctx));
    ctx.cb = cb;
    ctx.arg = arg;
    ctx.path = path;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
        return FG_OK;
    }
    if (fd < 0) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "open(\"%s\") failed: %s", path, strerror(errno));
    }
    rc = journal_scan(fd, path, journal_snapshot_deliver, &ctx, &st, err);
    close(fd);
    if (rc != FG_OK) {
        return FG_ERR;
    }
    if (st.has_torn_tail) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "snapshot %s is corrupt at offset %llu", path,
                          (unsigned long long) st.dropped_offset);
    }
    if (!ctx.has_begin || !ctx.has_end) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "snapshot %s is incomplete", path);
    }
    *covered_seq = ctx.covered_seq;
    return FG_OK;
}
