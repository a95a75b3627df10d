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
 * The CRC is CRC-32C from a 256-entry table below (one byte per step):
 * replay is bounded by the disk, not by the CRC, and it needs no CPU
 * feature detection.
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
#include "common/store/journal.h"

#define JOURNAL_READ_CHUNK  (64 * 1024)

typedef struct {
    int      fd;
    uint64_t size;        /* of the file when the scan started */
    uint8_t *buf;
    size_t   cap;
    uint64_t start;       /* file offset of buf[0] */
    size_t   len;         /* valid bytes in buf */
} journal_reader_t;

typedef int (*journal_scan_cb)(const fg_journal_entry_t *e, void *arg,
                               fg_err_t *err);

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
static int journal_get(journal_reader_t *r, uint64_t off, size_t n,
                       const uint8_t **p, size_t *got);
static int journal_parse(journal_reader_t *r, uint64_t off,
                         fg_journal_entry_t *e);
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

static const uint32_t journal_crc_table[256] = {
    0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c,
    0x26a1e7e8, 0xd4ca64eb, 0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b,
    0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24, 0x105ec76f, 0xe235446c,
    0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
    0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc,
    0xbc267848, 0x4e4dfb4b, 0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a,
    0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35, 0xaa64d611, 0x580f5512,
    0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
    0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad,
    0x1642ae59, 0xe4292d5a, 0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a,
    0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595, 0x417b1dbc, 0xb3109ebf,
    0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
    0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f,
    0xed03a29b, 0x1f682198, 0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927,
    0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38, 0xdbfc821c, 0x2997011f,
    0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
    0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e,
    0x4767748a, 0xb50cf789, 0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859,
    0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46, 0x7198540d, 0x83f3d70e,
    0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
    0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de,
    0xdde0eb2a, 0x2f8b6829, 0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c,
    0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93, 0x082f63b7, 0xfa44e0b4,
    0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
    0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b,
    0xb4091bff, 0x466298fc, 0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c,
    0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033, 0xa24bb5a6, 0x502036a5,
    0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
    0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975,
    0x0e330a81, 0xfc588982, 0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d,
    0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622, 0x38cc2a06, 0xcaa7a905,
    0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
    0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8,
    0xe52cc12c, 0x1747422f, 0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff,
    0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0, 0xd3d3e1ab, 0x21b862a8,
    0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
    0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78,
    0x7fab5e8c, 0x8dc0dd8f, 0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee,
    0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1, 0x69e9f0d5, 0x9b8273d6,
    0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
    0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69,
    0xd5cf889d, 0x27a40b9e, 0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e,
    0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};

uint32_t
fg_journal_crc32c(uint32_t crc, const void *p, size_t n)
{
    const uint8_t *b = p;

    crc = ~crc;
    while (n-- > 0) {
        crc = journal_crc_table[(crc ^ *b++) & 0xff] ^ (crc >> 8);
    }
    return ~crc;
}

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
    crc = fg_journal_crc32c(0, h + 8, FG_JOURNAL_HEADER_BYTES - 8);
    crc = fg_journal_crc32c(crc, payload, len);
    journal_put32(h + 4, crc);
}

/*
 * Points *@p at @n contiguous bytes from file offset @off, fewer (*@got)
 * at the end of the file. Reads ahead in chunks so a scan costs about one
 * pread(2) per JOURNAL_READ_CHUNK. Returns FG_ERR (errno set) on I/O error.
 */
static int
journal_get(journal_reader_t *r, uint64_t off, size_t n, const uint8_t **p,
            size_t *got)
{
    size_t  want, done = 0;
    ssize_t rc;

    *p = r->buf;
    *got = 0;
    if (off >= r->size) {
        return FG_OK;
    }
    if (n > r->size - off) {
        n = (size_t) (r->size - off);
    }
    if (off >= r->start && off + n <= r->start + r->len) {
        *p = r->buf + (off - r->start);
        *got = n;
        return FG_OK;
    }

    want = n > JOURNAL_READ_CHUNK ? n : JOURNAL_READ_CHUNK;
    if (want > r->size - off) {
        want = (size_t) (r->size - off);
    }
    if (want > r->cap) {
        r->buf = fg_xrealloc(r->buf, want);
        r->cap = want;
    }
    while (done < want) {
        rc = pread(r->fd, r->buf + done, want - done, (off_t) (off + done));
        if (rc < 0 && errno == EINTR) {
            continue;
        }
        if (rc < 0) {
            r->len = 0;
            return FG_ERR;
        }
        if (rc == 0) {
            break;       /* shrank under us: treat as the end */
        }
        done += (size_t) rc;
    }
    r->start = off;
    r->len = done;
    *p = r->buf;
    *got = done < n ? done : n;
    return FG_OK;
}

/* 1: a valid record at @off, filled into @e; 0: none; FG_ERR: I/O error. */
static int
journal_parse(journal_reader_t *r, uint64_t off, fg_journal_entry_t *e)
{
    const uint8_t *p;
    size_t         got;
    uint32_t       len;

    if (journal_get(r, off, FG_JOURNAL_HEADER_BYTES, &p, &got) != FG_OK) {
        return FG_ERR;
    }
    if (got < FG_JOURNAL_HEADER_BYTES || journal_le32(p) != FG_JOURNAL_MAGIC) {
        return 0;
    }
    len = journal_le32(p + 8);
    if (len > FG_JOURNAL_PAYLOAD_MAX) {
        return 0;
    }
    if (journal_get(r, off, FG_JOURNAL_HEADER_BYTES + len, &p, &got)
        != FG_OK) {
        return FG_ERR;
    }
    if (got < FG_JOURNAL_HEADER_BYTES + len
        || fg_journal_crc32c(0, p + 8, FG_JOURNAL_HEADER_BYTES - 8 + len)
           != journal_le32(p + 4)) {
        return 0;
    }
    e->type = journal_le32(p + 12);
    e->seq = journal_le64(p + 16);
    e->time_ms = (int64_t) journal_le64(p + 24);
    e->payload = p + FG_JOURNAL_HEADER_BYTES;
    e->len = len;
    e->offset = off;
    return 1;
}

/*
 * Hands every valid record of the file open at @fd to @cb, in order, and
 * classifies what follows the last one (see the file comment): a torn
 * tail is reported in @st, corruption in the middle is FG_ERR.
 */
static int
journal_scan(int fd, const char *path, journal_scan_cb cb, void *arg,
             fg_replay_stats_t *st, fg_err_t *err)
{
    journal_reader_t   r;
    fg_journal_entry_t e;
    struct stat        sb;
    const uint8_t     *p;
    uint64_t           off = 0, q;
    size_t             got;
    int                rc = FG_ERR, found, has_seq = 0;

    memset(st, 0, sizeof(*st));
    memset(&r, 0, sizeof(r));
    if (fstat(fd, &sb) != 0) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "fstat(\"%s\") failed: %s", path, strerror(errno));
    }
    if (!S_ISREG(sb.st_mode)) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "%s is not a regular file", path);
    }
    r.fd = fd;
    r.size = (uint64_t) sb.st_size;

    while (off < r.size) {
        found = journal_parse(&r, off, &e);
        if (found == FG_ERR) {
            goto io_error;
        }
        if (found == 0) {
            /* Torn tail, unless a valid record starts anywhere after. */
            for (q = off + 1; q + FG_JOURNAL_HEADER_BYTES <= r.size; q++) {
                if (journal_get(&r, q, 4, &p, &got) != FG_OK) {
                    goto io_error;
                }
                if (journal_le32(p) != FG_JOURNAL_MAGIC) {
                    continue;
                }
                found = journal_parse(&r, q, &e);
                if (found == FG_ERR) {
                    goto io_error;
                }
                if (found == 1) {
                    fg_err_set(err, FG_E_INTERNAL, NULL,
                               "%s: invalid record at offset %llu is "
                               "followed by a valid one at offset %llu; "
                               "refusing to guess", path,
                               (unsigned long long) off,
                               (unsigned long long) q);
                    goto done;
                }
            }
            st->has_torn_tail = 1;
            st->dropped_offset = off;
            st->dropped_bytes = r.size - off;
            break;
        }
        if (has_seq && e.seq <= st->last_seq) {
            fg_err_set(err, FG_E_INTERNAL, NULL,
                       "%s: sequence %llu at offset %llu does not follow "
                       "%llu", path, (unsigned long long) e.seq,
                       (unsigned long long) off,
                       (unsigned long long) st->last_seq);
            goto done;
        }
        if (cb(&e, arg, err) != FG_OK) {
            goto done;
        }
        has_seq = 1;
        st->last_seq = e.seq;
        off += FG_JOURNAL_HEADER_BYTES + e.len;
    }
    st->valid_bytes = off;
    rc = FG_OK;
    goto done;

io_error:
    fg_err_set(err, FG_E_INTERNAL, NULL, "pread(\"%s\") failed: %s", path,
               strerror(errno));
done:
    free(r.buf);
    return rc;
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
    if (rc == FG_OK && st.has_torn_tail
        && (ftruncate(fd, (off_t) st.dropped_offset) != 0
            || fsync(fd) != 0)) {
        rc = fg_err_set(err, FG_E_INTERNAL, NULL,
                        "truncating %s to %llu bytes failed: %s", path,
                        (unsigned long long) st.dropped_offset,
                        strerror(errno));
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
