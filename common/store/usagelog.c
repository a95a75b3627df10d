/*
 * usagelog.c: the usage journal (JSON lines with a CRC-32C each), its
 * group commit, its recovery at open, and the reader and aggregation.
 *
 * One writer, the syncer, appends batches of lines with one write(2) on
 * an O_APPEND descriptor and syncs when its policy says. Recovery is
 * journal.c's rule applied to lines:
 *
 * 1) A crash while appending leaves the last lines incomplete: a line
 *    without its newline, or a tail of zeros where the file grew but the
 *    data never reached the disk. No valid line follows the first invalid
 *    byte, so open cuts the file there (Redis's aof-load-truncated) and
 *    reports how much; the next append follows a valid line.
 * 2) An invalid line with a valid one after it cannot come from a crash
 *    of an append-only writer: it is damage, and open refuses rather than
 *    guess which lines to trust. So is a seq that does not increase
 *    within its ring, which the appender below never writes.
 *
 * Exactly once: the syncer copies records from a ring, appends them, and
 * only then commits the ring (usagering.h), so a syncer killed in between
 * re-delivers records the file already has. The journal keeps the last
 * seq it wrote per ring (rebuilt by the scan at open) and skips any
 * record not above it: seqs increase within a ring, so "not above" means
 * "already written".
 *
 * A write or fdatasync failure is sticky (reliability.md 3.3): after EIO
 * the kernel may drop the dirty pages and a retried fsync "succeeds"; a
 * short write may leave half a line that nothing may follow. The syncer
 * stops and the master stops billable admission; the records stay in the
 * rings if the syncer commits only after the sync.
 *
 * The scan, the CRC-32C and the torn-tail cut are common/store/frame.h's,
 * shared with the store's journal; this file says what a line is.
 *
 * The CRC covers the line up to `,"crc":`, so a line stays plain JSON
 * that any tool reads, and the check needs no second parse. Open checks
 * every line by its CRC and takes seq and ring from the head the writer
 * puts first (no JSON parse: the journal only grows, and open is on the
 * syncer's start-up path); the reader parses every line in full.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base/alloc.h"
#include "common/base/durable.h"
#include "common/store/frame.h"
#include "common/store/usagelog.h"

#define USAGELOG_SUFFIX       ",\"crc\":\""
#define USAGELOG_SUFFIX_LEN   18             /* ,"crc":"xxxxxxxx"} */
#define USAGELOG_FAILURE_MAX  256

/* The longest record encodes to a line within the maximum (test_usage.c
 * measures the members of the longest one). */
_Static_assert(FG_USAGELOG_NODE_MAX + 96 + FG_USAGE_MEMBERS_MAX
               + USAGELOG_SUFFIX_LEN + 1 <= FG_USAGELOG_LINE_MAX,
               "every record fits a journal line");
_Static_assert(FG_USAGELOG_VERSION == 2, "usagelog_peek reads versions 1 "
               "and 2");

/* The last seq written per ring: the dedupe state. */
typedef struct {
    uint64_t *last;
    size_t    n;
} usagelog_rings_t;

struct fg_usagelog_s {
    int              fd;
    int              has_failed;              /* sticky */
    uint64_t         last_seq;
    uint64_t         pending;                 /* appended, not synced */
    int64_t          first_pending_ms;
    uint64_t         duplicates;
    uint64_t         file_id;                 /* of the current file, for
                                               * rotation: usage.journal.<id> */
    uint64_t         first_seq;               /* seq of its first line: the
                                               * id positions name (0: none
                                               * yet) */
    uint64_t         bytes;                   /* its size: valid lines */
    usagelog_rings_t rings;
    char            *buf;                     /* one batch of lines */
    size_t           buf_len, buf_cap;
    char             node[FG_USAGELOG_NODE_MAX + 1];
    char             path[PATH_MAX];
    char             failure[USAGELOG_FAILURE_MAX];
};

typedef int (*usagelog_line_cb)(const fg_usage_record_t *rec,
                                const char *node, void *arg, fg_err_t *err);

/* One scan: the line the check decoded, handed on by the delivery. */
typedef struct {
    usagelog_rings_t   *rings;
    usagelog_line_cb    cb;
    void               *arg;
    fg_usagelog_replay_cb replay_cb;         /* lines from replay_from */
    uint64_t            replay_from;
    uint64_t            pos;                 /* end of the last line */
    fg_usagelog_scan_t *st;
    const char         *path;
    fg_usage_record_t   rec;
    char                node[FG_USAGELOG_NODE_MAX + 1];
} usagelog_scan_ctx_t;

typedef struct {
    char     key_id[FG_USAGE_KEY_ID_MAX + 1];
    char     model[FG_USAGE_MODEL_MAX + 1];
    char     day[11];
    int64_t  requests, prompt, completion, reasoning, cached, charged;
    int64_t  uncharged;
    int64_t  estimated, errors;
    double   energy_kwh, carbon_g_co2, water_liters;
} usagelog_row_t;

typedef struct {
    const fg_usagelog_filter_t *filter;
    json_t                     *index;       /* "day\nkey\nmodel" → row */
    usagelog_row_t             *rows;
    size_t                      n, cap;
    uint64_t                    records;
} usagelog_agg_t;

static int usagelog_node_char(char c);
static int usagelog_node_ok(const char *node);
static int usagelog_rings_put(usagelog_rings_t *rs, unsigned ring);
static void usagelog_reserve(fg_usagelog_t *log, size_t more);
static int usagelog_encode(fg_usagelog_t *log, const fg_usage_record_t *rec,
                           fg_err_t *err);
static int usagelog_hex8(const char *p, uint32_t *out);
static int usagelog_crc_ok(const char *line, size_t len);
static int usagelog_number(const char **p, const char *end, uint64_t *v);
static int usagelog_literal(const char **p, const char *end,
                            const char *lit);
static int usagelog_peek(const char *line, size_t len, uint64_t *seq,
                         uint32_t *ring);
static int usagelog_parse(const char *line, size_t len, int is_full,
                          fg_usage_record_t *rec, char *node);
static fg_frame_verdict_t usagelog_check_line(const uint8_t *p,
                                              size_t avail, int is_eof,
                                              size_t *len, void *arg);
static int usagelog_deliver(const uint8_t *line, size_t len, uint64_t off,
                            void *arg, fg_err_t *err);
static int usagelog_scan(int fd, const char *path, usagelog_rings_t *rs,
                         usagelog_line_cb cb, void *arg,
                         fg_usagelog_scan_t *st, fg_err_t *err);
static int usagelog_fail(fg_usagelog_t *log, fg_err_t *err,
                         const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int usagelog_check(const fg_usagelog_t *log, fg_err_t *err);
static int usagelog_open_rolled(fg_usagelog_t *log, int is_empty,
                                fg_err_t *err);
static int usagelog_read_all(const char *path, fg_usagelog_read_cb cb,
                             void *arg, fg_usagelog_scan_t *st,
                             size_t *files, fg_err_t *err);
static int usagelog_read_fd(int fd, const char *path,
                            fg_usagelog_read_cb cb, void *arg,
                            fg_usagelog_scan_t *scan, fg_err_t *err);
static int usagelog_day_ok(const char *day);
static void usagelog_digits(char *p, unsigned v, int width);
static void usagelog_day(int64_t unix_ms, char day[11]);
static int64_t usagelog_add(int64_t a, int64_t b);
static int usagelog_agg_add(const fg_usage_record_t *rec, const char *node,
                            void *arg, fg_err_t *err);
static int usagelog_row_cmp(const void *a, const void *b);
static json_t *usagelog_row_json(const usagelog_row_t *row, int with_ids);

/* ---- lines ----------------------------------------------------------- */

static int
usagelog_node_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

static int
usagelog_node_ok(const char *node)
{
    size_t i, n = strlen(node);

    if (n == 0 || n > FG_USAGELOG_NODE_MAX) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (!usagelog_node_char(node[i])) {
            return 0;
        }
    }
    return 1;
}

/* Makes room for @ring in @rs. FG_ERR when it is out of range. */
static int
usagelog_rings_put(usagelog_rings_t *rs, unsigned ring)
{
    size_t n;

    if (ring >= FG_USAGELOG_RINGS_MAX) {
        return FG_ERR;
    }
    if (ring >= rs->n) {
        n = rs->n == 0 ? 64 : rs->n;
        while (n <= ring) {
            n *= 2;
        }
        rs->last = fg_xrealloc(rs->last, n * sizeof(rs->last[0]));
        memset(rs->last + rs->n, 0, (n - rs->n) * sizeof(rs->last[0]));
        rs->n = n;
    }
    return FG_OK;
}

static void
usagelog_reserve(fg_usagelog_t *log, size_t more)
{
    if (log->buf_len + more > log->buf_cap) {
        log->buf_cap = (log->buf_len + more) * 2;
        log->buf = fg_xrealloc(log->buf, log->buf_cap);
    }
}

/*
 * Appends the line of @rec to the batch buffer: the head (version, node,
 * seq, ring), whose shape usagelog_peek() relies on, then the members of
 * fg_usage_to_json() in its order (fg_usage_write_members: no jansson,
 * the syncer writes one line per request).
 */
static int
usagelog_encode(fg_usagelog_t *log, const fg_usage_record_t *rec,
                fg_err_t *err)
{
    size_t   start = log->buf_len, body;
    uint32_t crc;
    int      head_len;

    usagelog_reserve(log, FG_USAGELOG_NODE_MAX + 96 + FG_USAGE_MEMBERS_MAX
                          + USAGELOG_SUFFIX_LEN + 2);
    head_len = snprintf(log->buf + start, FG_USAGELOG_NODE_MAX + 96,
                        "{\"v\":%d,\"node\":\"%s\",\"seq\":%llu,"
                        "\"ring\":%u", FG_USAGELOG_VERSION, log->node,
                        (unsigned long long) rec->seq, rec->ring);
    if (head_len <= 0 || head_len >= FG_USAGELOG_NODE_MAX + 96) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "usage record %llu cannot be encoded",
                          (unsigned long long) rec->seq);
    }
    body = (size_t) head_len
           + fg_usage_write_members(rec, log->buf + start + head_len);
    if (body + USAGELOG_SUFFIX_LEN > FG_USAGELOG_LINE_MAX) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "usage record %llu encodes to %zu bytes",
                          (unsigned long long) rec->seq, body);
    }

    crc = fg_frame_crc32c(0, log->buf + start, body);
    snprintf(log->buf + start + body, USAGELOG_SUFFIX_LEN + 2,
             USAGELOG_SUFFIX "%08x\"}\n", crc);
    log->buf_len = start + body + USAGELOG_SUFFIX_LEN + 1;
    return FG_OK;
}

static int
usagelog_hex8(const char *p, uint32_t *out)
{
    uint32_t v = 0;
    int      i;

    for (i = 0; i < 8; i++) {
        if (p[i] >= '0' && p[i] <= '9') {
            v = v << 4 | (uint32_t) (p[i] - '0');
        } else if (p[i] >= 'a' && p[i] <= 'f') {
            v = v << 4 | (uint32_t) (p[i] - 'a' + 10);
        } else {
            return FG_ERR;
        }
    }
    *out = v;
    return FG_OK;
}

/* 1 when the line ends with a CRC member that matches what precedes it. */
static int
usagelog_crc_ok(const char *line, size_t len)
{
    const char *suffix;
    uint32_t    want;

    if (len < USAGELOG_SUFFIX_LEN + 2 || len > FG_USAGELOG_LINE_MAX) {
        return 0;
    }
    suffix = line + len - USAGELOG_SUFFIX_LEN;
    return memcmp(suffix, USAGELOG_SUFFIX, sizeof(USAGELOG_SUFFIX) - 1) == 0
           && suffix[16] == '"' && suffix[17] == '}'
           && usagelog_hex8(suffix + 8, &want) == FG_OK
           && fg_frame_crc32c(0, line, len - USAGELOG_SUFFIX_LEN) == want;
}

/* Reads a decimal at *@p (no sign, no leading zero but "0") into @v. */
static int
usagelog_number(const char **p, const char *end, uint64_t *v)
{
    const char *q = *p;
    uint64_t    n = 0;

    if (q >= end || *q < '0' || *q > '9' || (*q == '0' && q + 1 < end
                                             && q[1] >= '0' && q[1] <= '9')) {
        return FG_ERR;
    }
    for (; q < end && *q >= '0' && *q <= '9'; q++) {
        if (n > (UINT64_MAX - 9) / 10) {
            return FG_ERR;
        }
        n = n * 10 + (uint64_t) (*q - '0');
    }
    *p = q;
    *v = n;
    return FG_OK;
}

static int
usagelog_literal(const char **p, const char *end, const char *lit)
{
    size_t n = strlen(lit);

    if ((size_t) (end - *p) < n || memcmp(*p, lit, n) != 0) {
        return FG_ERR;
    }
    *p += n;
    return FG_OK;
}

/*
 * The seq and ring of a line whose CRC is good, from the head that
 * usagelog_encode() writes, without a JSON parse: open reads every line
 * of a journal that only grows, and this makes it several times faster.
 * FG_ERR when the head is not that shape (the caller then parses).
 */
static int
usagelog_peek(const char *line, size_t len, uint64_t *seq, uint32_t *ring)
{
    const char *p = line, *end = line + len, *node;
    uint64_t    s, r;

    if ((usagelog_literal(&p, end, "{\"v\":2,\"node\":\"") != FG_OK
         && usagelog_literal(&p, end, "{\"v\":1,\"node\":\"") != FG_OK)) {
        return FG_ERR;
    }
    for (node = p; p < end && *p != '"'; p++) {
        if (!usagelog_node_char(*p)) {
            return FG_ERR;
        }
    }
    if (p == node || p - node > FG_USAGELOG_NODE_MAX
        || usagelog_literal(&p, end, "\",\"seq\":") != FG_OK
        || usagelog_number(&p, end, &s) != FG_OK
        || usagelog_literal(&p, end, ",\"ring\":") != FG_OK
        || usagelog_number(&p, end, &r) != FG_OK
        || usagelog_literal(&p, end, ",") != FG_OK
        || s == 0 || s > INT64_MAX || r >= FG_USAGELOG_RINGS_MAX) {
        return FG_ERR;
    }
    *seq = s;
    *ring = (uint32_t) r;
    return FG_OK;
}

/*
 * Checks one line (@len bytes, no newline): the CRC first, then, when
 * @is_full or when the head is not the usual one, the JSON, the format
 * version, the node and every field. Fills @rec (all of it when
 * @is_full, else at least seq and ring) and @node (FG_USAGELOG_NODE_MAX
 * + 1 bytes; only when @is_full) when the line is valid.
 */
static int
usagelog_parse(const char *line, size_t len, int is_full,
               fg_usage_record_t *rec, char *node)
{
    const char  *n;
    json_t      *obj, *v;
    int          rc;

    if (!usagelog_crc_ok(line, len)) {
        return FG_ERR;
    }
    if (!is_full && usagelog_peek(line, len, &rec->seq, &rec->ring)
                    == FG_OK) {
        return FG_OK;
    }
    obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
    if (obj == NULL) {
        return FG_ERR;
    }
    v = json_object_get(obj, "v");
    n = json_string_value(json_object_get(obj, "node"));
    if (!json_is_integer(v) || json_integer_value(v) < 1
        || json_integer_value(v) > FG_USAGELOG_VERSION
        || n == NULL || !usagelog_node_ok(n)) {
        json_decref(obj);
        return FG_ERR;
    }
    snprintf(node, FG_USAGELOG_NODE_MAX + 1, "%s", n);
    /* The line format is the record's JSON version (1 and 2 alike). */
    rc = fg_usage_from_json(rec, obj, (int) json_integer_value(v), NULL);
    json_decref(obj);
    if (rc != FG_OK || rec->seq == 0 || rec->ring >= FG_USAGELOG_RINGS_MAX) {
        return FG_ERR;
    }
    return FG_OK;
}

static const fg_frame_format_t usagelog_format = {
    "line", FG_USAGELOG_LINE_MAX + 1, usagelog_check_line
};

/*
 * A line at @p: a newline within FG_USAGELOG_LINE_MAX bytes, and a line
 * before it that usagelog_parse() takes (the CRC, then the head or, when
 * a callback wants the record, every field). Anything else is not a
 * record, and the next candidate starts after its newline, or after the
 * longest a line can be when there is none.
 */
static fg_frame_verdict_t
usagelog_check_line(const uint8_t *p, size_t avail, int is_eof, size_t *len,
                    void *arg)
{
    usagelog_scan_ctx_t *ctx = arg;
    size_t               window = avail < FG_USAGELOG_LINE_MAX + 1
                                  ? avail : FG_USAGELOG_LINE_MAX + 1;
    const uint8_t       *nl = memchr(p, '\n', window);

    if (nl == NULL) {
        if (!is_eof && avail <= FG_USAGELOG_LINE_MAX) {
            *len = FG_USAGELOG_LINE_MAX + 1;
            return FG_FRAME_MORE;
        }
        *len = window;
        return FG_FRAME_INVALID;
    }
    *len = (size_t) (nl - p) + 1;
    return usagelog_parse((const char *) p, (size_t) (nl - p),
                          ctx->cb != NULL
                          || (ctx->replay_cb != NULL
                              && ctx->pos >= ctx->replay_from),
                          &ctx->rec, ctx->node) == FG_OK
           ? FG_FRAME_VALID : FG_FRAME_INVALID;
}

/* A valid line: its seq must increase within its ring (the dedupe state
 * is rebuilt here); then the caller's turn. */
static int
usagelog_deliver(const uint8_t *line, size_t len, uint64_t off, void *arg,
                 fg_err_t *err)
{
    usagelog_scan_ctx_t     *ctx = arg;
    const fg_usage_record_t *rec = &ctx->rec;

    (void) line;
    if (usagelog_rings_put(ctx->rings, rec->ring) != FG_OK
        || rec->seq <= ctx->rings->last[rec->ring]) {
        ctx->st->is_damaged = 1;
        ctx->st->damaged_offset = off;
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "usage journal %s is damaged: seq %llu of ring %u "
                          "at offset %llu does not increase", ctx->path,
                          (unsigned long long) rec->seq, rec->ring,
                          (unsigned long long) off);
    }
    ctx->rings->last[rec->ring] = rec->seq;
    ctx->pos = off + len;
    if (ctx->st->first_seq == 0) {
        ctx->st->first_seq = rec->seq;
    }
    if (ctx->cb != NULL && ctx->cb(rec, ctx->node, ctx->arg, err) != FG_OK) {
        return FG_ERR;
    }
    if (ctx->replay_cb != NULL && off >= ctx->replay_from
        && ctx->replay_cb(rec, ctx->node, off + len, ctx->arg, err)
           != FG_OK) {
        return FG_ERR;
    }
    if (rec->seq > ctx->st->last_seq) {
        ctx->st->last_seq = rec->seq;
    }
    return FG_OK;
}

/*
 * Reads @fd from its start and hands every valid line to @cb, keeping
 * the per-ring last seq in @rs. Without @cb (open) a line is checked by
 * its CRC and its head; with one, in full. Fills @st (the torn-tail
 * verdict of frame.h: invalid lines with no valid line after them).
 * FG_ERR on a read error, damage (an invalid line before a valid one, a
 * seq that does not increase within its ring) or an error from @cb.
 */
static int
usagelog_scan_ex(int fd, const char *path, usagelog_rings_t *rs,
                 usagelog_line_cb cb, fg_usagelog_replay_cb replay_cb,
                 uint64_t replay_from, void *arg, fg_usagelog_scan_t *st,
                 fg_err_t *err)
{
    usagelog_scan_ctx_t *ctx = fg_xcalloc(1, sizeof(*ctx));
    fg_frame_scan_t      fs;
    int                  rc;

    memset(st, 0, sizeof(*st));
    ctx->rings = rs;
    ctx->cb = cb;
    ctx->replay_cb = replay_cb;
    ctx->replay_from = replay_from;
    ctx->arg = arg;
    ctx->st = st;
    ctx->path = path;
    rc = fg_frame_scan(fd, path, &usagelog_format, usagelog_deliver, ctx,
                       &fs, err);
    free(ctx);
    if (rc != FG_OK) {
        /* What precedes the damage, for `fluxgate-admin store check`. */
        st->records = fs.records;
        if (fs.is_damaged) {
            st->is_damaged = 1;
            st->damaged_offset = fs.damaged_offset;
        }
        st->valid_bytes = st->is_damaged ? st->damaged_offset : 0;
        return FG_ERR;
    }
    st->records = fs.records;
    st->valid_bytes = fs.valid_bytes;
    st->has_torn_tail = fs.has_torn_tail;
    st->dropped_offset = fs.dropped_offset;
    st->dropped_bytes = fs.dropped_bytes;
    return FG_OK;
}

static int
usagelog_scan(int fd, const char *path, usagelog_rings_t *rs,
              usagelog_line_cb cb, void *arg, fg_usagelog_scan_t *st,
              fg_err_t *err)
{
    return usagelog_scan_ex(fd, path, rs, cb, NULL, 0, arg, st, err);
}

/* ---- the journal ------------------------------------------------------ */

/* Marks @log failed for good with the formatted reason, and reports it. */
static int
usagelog_fail(fg_usagelog_t *log, fg_err_t *err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(log->failure, sizeof(log->failure), fmt, ap);
    va_end(ap);
    log->has_failed = 1;
    return fg_err_set(err, FG_E_INTERNAL, NULL, "usage journal %s: %s",
                      log->path, log->failure);
}

static int
usagelog_check(const fg_usagelog_t *log, fg_err_t *err)
{
    if (log->has_failed) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "usage journal %s is unusable after an earlier "
                          "failure (%s); restart to recover it", log->path,
                          log->failure);
    }
    return FG_OK;
}

/*
 * The current file's id, from the rolled files beside it; and, when the
 * current file holds no record (a roll just happened), the last seq from
 * the newest rolled file, so that a fresh arena's sequence starts above
 * every journaled record (fg_usagering_raise_seq). Records drained after
 * a roll were pushed after the rolled file's were committed, so the
 * newest rolled file holds the highest seq of all rolled files.
 */
static int
usagelog_open_rolled(fg_usagelog_t *log, int is_empty, fg_err_t *err)
{
    fg_usagelog_file_t *files = NULL;
    fg_usagelog_scan_t  st;
    char                rolled[PATH_MAX];
    size_t              n = 0;
    int                 rc = FG_OK;

    if (fg_usagelog_list_rolled(log->path, &files, &n, err) != FG_OK) {
        return FG_ERR;
    }
    log->file_id = n > 0 ? files[n - 1].id + 1 : 1;
    if (is_empty && n > 0) {
        if (fg_usagelog_rolled_path(log->path, files[n - 1].id, rolled,
                                    sizeof(rolled)) != FG_OK) {
            rc = fg_err_set(err, FG_E_INTERNAL, NULL, "path too long: %s",
                            log->path);
        } else if (fg_usagelog_read(rolled, NULL, NULL, &st, err) != FG_OK) {
            rc = FG_ERR;
        } else if (st.last_seq > log->last_seq) {
            log->last_seq = st.last_seq;
        }
    }
    free(files);
    return rc;
}

fg_usagelog_t *
fg_usagelog_open(const char *path, const char *node,
                 fg_usagelog_scan_t *scan, fg_err_t *err)
{
    fg_usagelog_t     *log;
    fg_usagelog_scan_t st;
    int                fd, is_created = 0;

    if (node == NULL || !usagelog_node_ok(node)) {
        fg_err_set(err, FG_E_INVALID_VALUE, "node",
                   "node id \"%s\" must be 1..%d of [A-Za-z0-9._-]",
                   node != NULL ? node : "", FG_USAGELOG_NODE_MAX);
        return NULL;
    }
    if (strlen(path) >= PATH_MAX) {
        fg_err_set(err, FG_E_INTERNAL, NULL, "path too long: %s", path);
        return NULL;
    }
    fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
        fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC
                        | O_NOFOLLOW, 0600);
        is_created = 1;
    }
    if (fd < 0) {
        fg_err_set(err, FG_E_INTERNAL, NULL, "open(\"%s\") failed: %s",
                   path, strerror(errno));
        return NULL;
    }

    log = fg_xcalloc(1, sizeof(*log));
    log->fd = fd;
    snprintf(log->node, sizeof(log->node), "%s", node);
    snprintf(log->path, sizeof(log->path), "%s", path);
    if ((is_created && fg_fsync_dir_of(path, err) != FG_OK)
        || usagelog_scan(fd, path, &log->rings, NULL, NULL, &st, err)
           != FG_OK) {
        fg_usagelog_close(log);
        return NULL;
    }
    if (st.has_torn_tail) {
        fg_frame_scan_t cut = { .records = st.records,
                                .valid_bytes = st.valid_bytes,
                                .has_torn_tail = 1,
                                .dropped_offset = st.dropped_offset,
                                .dropped_bytes = st.dropped_bytes };

        if (fg_frame_cut(fd, path, &cut, err) != FG_OK) {
            fg_usagelog_close(log);
            return NULL;
        }
    }
    log->last_seq = st.last_seq;
    log->bytes = st.valid_bytes;
    log->first_seq = st.first_seq;
    if (usagelog_open_rolled(log, st.records == 0, err) != FG_OK) {
        fg_usagelog_close(log);
        return NULL;
    }
    if (scan != NULL) {
        *scan = st;
    }
    return log;
}

void
fg_usagelog_close(fg_usagelog_t *log)
{
    if (log == NULL) {
        return;
    }
    if (log->fd >= 0) {
        close(log->fd);
    }
    free(log->rings.last);
    free(log->buf);
    free(log);
}

int
fg_usagelog_append(fg_usagelog_t *log, const fg_usage_record_t *recs,
                   size_t n, int64_t now_ms, size_t *written, fg_err_t *err)
{
    size_t  i, count = 0, off = 0;
    ssize_t w;

    if (written != NULL) {
        *written = 0;
    }
    if (usagelog_check(log, err) != FG_OK) {
        return FG_ERR;
    }
    for (i = 0; i < n; i++) {
        if (recs[i].seq == 0 || recs[i].ring >= FG_USAGELOG_RINGS_MAX) {
            return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                              "usage record with seq %llu on ring %u",
                              (unsigned long long) recs[i].seq,
                              recs[i].ring);
        }
    }

    /* From here on a failure is sticky, so the dedupe state may move
     * ahead of the file: nothing is appended after a failure. */
    log->buf_len = 0;
    for (i = 0; i < n; i++) {
        const fg_usage_record_t *rec = &recs[i];

        usagelog_rings_put(&log->rings, rec->ring);
        if (rec->seq <= log->rings.last[rec->ring]) {
            log->duplicates++;
            continue;
        }
        if (usagelog_encode(log, rec, err) != FG_OK) {
            return usagelog_fail(log, NULL, "%s", err != NULL ? err->msg
                                                             : "encoding");
        }
        log->rings.last[rec->ring] = rec->seq;
        if (rec->seq > log->last_seq) {
            log->last_seq = rec->seq;
        }
        count++;
    }

    while (off < log->buf_len) {
        w = write(log->fd, log->buf + off, log->buf_len - off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return usagelog_fail(log, err, "write failed after %zu of %zu "
                                 "bytes: %s", off, log->buf_len,
                                 w < 0 ? strerror(errno) : "no progress");
        }
        off += (size_t) w;
    }
    log->bytes += log->buf_len;
    if (count > 0 && log->pending == 0) {
        log->first_pending_ms = now_ms;
    }
    if (log->first_seq == 0 && count > 0) {
        log->first_seq = recs[0].seq;   /* an empty file skips nothing */
    }
    log->pending += count;
    if (written != NULL) {
        *written = count;
    }
    return FG_OK;
}

int
fg_usagelog_sync(fg_usagelog_t *log, fg_err_t *err)
{
    if (usagelog_check(log, err) != FG_OK) {
        return FG_ERR;
    }
    if (log->pending == 0) {
        return FG_OK;
    }
    if (fdatasync(log->fd) != 0) {
        return usagelog_fail(log, err, "fdatasync failed: %s",
                             strerror(errno));
    }
    log->pending = 0;
    return FG_OK;
}

int64_t
fg_usagelog_sync_wait_ms(const fg_usagelog_t *log,
                         const fg_usagelog_policy_t *policy, int64_t now_ms)
{
    int64_t waited;

    if (log->pending == 0) {
        return -1;
    }
    if (log->pending >= policy->max_pending) {
        return 0;
    }
    waited = now_ms - log->first_pending_ms;
    return waited >= policy->max_delay_ms ? 0
                                          : policy->max_delay_ms - waited;
}

uint64_t
fg_usagelog_pending(const fg_usagelog_t *log)
{
    return log->pending;
}

uint64_t
fg_usagelog_last_seq(const fg_usagelog_t *log)
{
    return log->last_seq;
}

uint64_t
fg_usagelog_ring_seq(const fg_usagelog_t *log, unsigned ring)
{
    return ring < log->rings.n ? log->rings.last[ring] : 0;
}

uint64_t
fg_usagelog_duplicates(const fg_usagelog_t *log)
{
    return log->duplicates;
}

int
fg_usagelog_has_failed(const fg_usagelog_t *log)
{
    return log->has_failed;
}

int
fg_usagelog_fd(const fg_usagelog_t *log)
{
    return log->fd;
}

void
fg_usagelog_position(const fg_usagelog_t *log, fg_usagelog_pos_t *pos)
{
    pos->file_id = log->first_seq;
    pos->offset = log->bytes;
}

/* What usagelog_open_read() returns when @path does not exist. */
#define USAGELOG_NO_FILE (-2)

/*
 * Opens @path to read it: the descriptor, USAGELOG_NO_FILE when there is
 * no such file (a journal not written yet reads as empty: *@scan zeroed),
 * or -1 with @err set.
 */
static int
usagelog_open_read(const char *path, fg_usagelog_scan_t *scan, fg_err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0 && errno == ENOENT) {
        if (scan != NULL) {
            memset(scan, 0, sizeof(*scan));
        }
        return USAGELOG_NO_FILE;
    }
    if (fd < 0) {
        (void) fg_err_set(err, FG_E_INTERNAL, NULL, "open(\"%s\") failed: %s",
                          path, strerror(errno));
    }
    return fd;
}

int
fg_usagelog_replay(const char *path, uint64_t from_offset,
                   fg_usagelog_replay_cb cb, void *arg,
                   fg_usagelog_scan_t *scan, fg_err_t *err)
{
    usagelog_rings_t   rs = { NULL, 0 };
    fg_usagelog_scan_t st;
    int                fd, rc;

    if ((fd = usagelog_open_read(path, scan, err)) < 0) {
        return fd == USAGELOG_NO_FILE ? FG_OK : FG_ERR;
    }
    memset(&st, 0, sizeof(st));
    rc = usagelog_scan_ex(fd, path, &rs, NULL, cb, from_offset, arg, &st,
                          err);
    close(fd);
    free(rs.last);
    if (scan != NULL) {
        *scan = st;
    }
    return rc;
}

int
fg_usagelog_read(const char *path, fg_usagelog_read_cb cb, void *arg,
                 fg_usagelog_scan_t *scan, fg_err_t *err)
{
    int fd, rc;

    if ((fd = usagelog_open_read(path, scan, err)) < 0) {
        return fd == USAGELOG_NO_FILE ? FG_OK : FG_ERR;
    }
    rc = usagelog_read_fd(fd, path, cb, arg, scan, err);
    close(fd);
    return rc;
}

static int
usagelog_read_fd(int fd, const char *path, fg_usagelog_read_cb cb,
                 void *arg, fg_usagelog_scan_t *scan, fg_err_t *err)
{
    usagelog_rings_t   rs = { NULL, 0 };
    fg_usagelog_scan_t st;
    int                rc;

    rc = usagelog_scan(fd, path, &rs, cb, arg, &st, err);
    free(rs.last);
    if (scan != NULL) {
        *scan = st;
    }
    return rc;
}

/* ---- rotation and retention ------------------------------------------ */

int
fg_usagelog_rolled_path(const char *path, uint64_t id, char *out,
                        size_t size)
{
    int n = snprintf(out, size, "%s.%06llu", path, (unsigned long long) id);

    return n > 0 && (size_t) n < size ? FG_OK : FG_ERR;
}

static int
usagelog_file_cmp(const void *a, const void *b)
{
    const fg_usagelog_file_t *x = a, *y = b;

    return x->id < y->id ? -1 : x->id > y->id;
}

int
fg_usagelog_list_rolled(const char *path, fg_usagelog_file_t **files,
                        size_t *n, fg_err_t *err)
{
    char           dir[PATH_MAX];
    const char    *base, *slash = strrchr(path, '/');
    size_t         base_len, cap = 0;
    DIR           *d;
    struct dirent *e;
    struct stat    sb;

    *files = NULL;
    *n = 0;
    if (slash == NULL) {
        snprintf(dir, sizeof(dir), ".");
        base = path;
    } else {
        snprintf(dir, sizeof(dir), "%.*s", (int) (slash - path), path);
        base = slash + 1;
    }
    base_len = strlen(base);
    d = opendir(dir[0] != '\0' ? dir : "/");
    if (d == NULL) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "opendir(\"%s\") "
                          "failed: %s", dir, strerror(errno));
    }
    while ((e = readdir(d)) != NULL) {
        const char *p = e->d_name + base_len + 1;
        uint64_t    id = 0;
        size_t      digits = 0;

        if (strncmp(e->d_name, base, base_len) != 0
            || e->d_name[base_len] != '.') {
            continue;
        }
        for (; p[digits] >= '0' && p[digits] <= '9' && digits < 19;
             digits++) {
            id = id * 10 + (uint64_t) (p[digits] - '0');
        }
        if (digits < 6 || p[digits] != '\0' || id == 0) {
            continue;
        }
        if (*n == FG_USAGELOG_ROLLED_MAX) {
            closedir(d);
            free(*files);
            *files = NULL;
            *n = 0;
            return fg_err_set(err, FG_E_INTERNAL, NULL, "more than %d rolled "
                              "usage journals beside %s", FG_USAGELOG_ROLLED_MAX,
                              path);
        }
        if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0
            || !S_ISREG(sb.st_mode)) {
            continue;
        }
        if (*n == cap) {
            cap = cap == 0 ? 16 : cap * 2;
            *files = fg_xrealloc(*files, cap * sizeof(**files));
        }
        (*files)[*n].id = id;
        (*files)[*n].bytes = (uint64_t) sb.st_size;
        (*files)[*n].mtime_unix_s = (int64_t) sb.st_mtime;
        (*n)++;
    }
    closedir(d);
    if (*n > 1) {
        qsort(*files, *n, sizeof(**files), usagelog_file_cmp);
    }
    return FG_OK;
}

uint64_t
fg_usagelog_file_id(const fg_usagelog_t *log)
{
    return log->file_id;
}

uint64_t
fg_usagelog_bytes(const fg_usagelog_t *log)
{
    return log->bytes;
}

int
fg_usagelog_roll(fg_usagelog_t *log, fg_err_t *err)
{
    char rolled[PATH_MAX];
    int  fd;

    if (usagelog_check(log, err) != FG_OK) {
        return FG_ERR;
    }
    if (log->pending > 0) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL, "a roll needs every "
                          "line synced first");
    }
    if (fg_usagelog_rolled_path(log->path, log->file_id, rolled,
                                sizeof(rolled)) != FG_OK) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "path too long: %s",
                          log->path);
    }
    /* A crash after the rename leaves no current file: the next open
     * creates one, with the next id. */
    if (rename(log->path, rolled) != 0) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "rename(\"%s\", \"%s\") "
                          "failed: %s", log->path, rolled, strerror(errno));
    }
    fd = open(log->path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC
                         | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return usagelog_fail(log, err, "open(\"%s\") after a roll failed: %s",
                             log->path, strerror(errno));
    }
    close(log->fd);
    log->fd = fd;
    log->file_id++;
    log->first_seq = 0;
    log->bytes = 0;
    if (fg_fsync_dir_of(log->path, err) != FG_OK) {
        return usagelog_fail(log, NULL, "fsync of the folder after a roll "
                             "failed");
    }
    return FG_OK;
}

int
fg_usagelog_retain(const fg_usagelog_t *log, const fg_usagelog_retention_t *r,
                   int64_t now_unix_s, unsigned *deleted, fg_err_t *err)
{
    fg_usagelog_file_t *files = NULL;
    char                rolled[PATH_MAX];
    uint64_t            total = log->bytes;
    size_t              i, n = 0;
    unsigned            gone = 0;
    int                 rc = FG_OK;

    if (deleted != NULL) {
        *deleted = 0;
    }
    if (r->max_age_s <= 0 && r->max_bytes == 0) {
        return FG_OK;
    }
    if (fg_usagelog_list_rolled(log->path, &files, &n, err) != FG_OK) {
        return FG_ERR;
    }
    for (i = 0; i < n; i++) {
        total += files[i].bytes;
    }
    /* Never the newest rolled file: its id is where the next open counts
     * on from, so ids are never reused even when retention would take
     * every rolled file. */
    for (i = 0; i + 1 < n; i++) {
        int is_old = r->max_age_s > 0
                     && files[i].mtime_unix_s < now_unix_s - r->max_age_s;
        int is_over = r->max_bytes > 0 && total > r->max_bytes;

        if (files[i].id >= r->keep_from_id || files[i].id >= log->file_id
            || (!is_old && !is_over)) {
            break;
        }
        if (fg_usagelog_rolled_path(log->path, files[i].id, rolled,
                                    sizeof(rolled)) != FG_OK
            || (unlink(rolled) != 0 && errno != ENOENT)) {
            rc = fg_err_set(err, FG_E_INTERNAL, NULL, "unlink(\"%s\") "
                            "failed: %s", rolled, strerror(errno));
            break;
        }
        total -= files[i].bytes;
        gone++;
    }
    free(files);
    if (gone > 0 && fg_fsync_dir_of(log->path, rc == FG_OK ? err : NULL)
                    != FG_OK) {
        rc = FG_ERR;
    }
    if (deleted != NULL) {
        *deleted = gone;
    }
    return rc;
}

/*
 * Reads the whole journal of @path: the rolled files in id order, then
 * the current one. The current file is opened first, and a rolled file
 * that is the same file (a roll between the two steps) is not read
 * twice. @st gets the current file's scan, has_torn_tail set when any
 * file had one; *@files the number of files read.
 */
static int
usagelog_read_all(const char *path, fg_usagelog_read_cb cb, void *arg,
                  fg_usagelog_scan_t *st, size_t *files, fg_err_t *err)
{
    fg_usagelog_file_t *rolled = NULL;
    fg_usagelog_scan_t  one;
    struct stat         cur_sb, sb;
    char                name[PATH_MAX];
    size_t              i, n = 0;
    int                 cur, fd, rc = FG_OK, torn = 0;

    memset(st, 0, sizeof(*st));
    *files = 0;
    cur = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (cur < 0 && errno != ENOENT) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "open(\"%s\") failed: %s", path, strerror(errno));
    }
    if (cur >= 0 && fstat(cur, &cur_sb) != 0) {
        rc = fg_err_set(err, FG_E_INTERNAL, NULL, "fstat(\"%s\") failed: %s",
                        path, strerror(errno));
    }
    if (rc == FG_OK) {
        rc = fg_usagelog_list_rolled(path, &rolled, &n, err);
    }
    for (i = 0; rc == FG_OK && i < n; i++) {
        if (fg_usagelog_rolled_path(path, rolled[i].id, name, sizeof(name))
            != FG_OK) {
            continue;
        }
        fd = open(name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
            if (errno == ENOENT) {
                continue;       /* retention deleted it meanwhile */
            }
            rc = fg_err_set(err, FG_E_INTERNAL, NULL, "open(\"%s\") failed: "
                            "%s", name, strerror(errno));
            break;
        }
        if (cur >= 0 && fstat(fd, &sb) == 0 && sb.st_dev == cur_sb.st_dev
            && sb.st_ino == cur_sb.st_ino) {
            close(fd);
            continue;
        }
        rc = usagelog_read_fd(fd, name, cb, arg, &one, err);
        close(fd);
        torn |= one.has_torn_tail;
        (*files)++;
    }
    if (rc == FG_OK && cur >= 0) {
        rc = usagelog_read_fd(cur, path, cb, arg, st, err);
        (*files)++;
    }
    if (cur >= 0) {
        close(cur);
    }
    free(rolled);
    st->has_torn_tail |= torn;
    return rc;
}

/* ---- aggregation ------------------------------------------------------ */

/* "YYYY-MM-DD" with a month 01..12 and a day 01..31. */
static int
usagelog_day_ok(const char *day)
{
    int i, month, mday;

    if (strlen(day) != 10 || day[4] != '-' || day[7] != '-') {
        return 0;
    }
    for (i = 0; i < 10; i++) {
        if (i != 4 && i != 7 && (day[i] < '0' || day[i] > '9')) {
            return 0;
        }
    }
    month = (day[5] - '0') * 10 + (day[6] - '0');
    mday = (day[8] - '0') * 10 + (day[9] - '0');
    return month >= 1 && month <= 12 && mday >= 1 && mday <= 31;
}

/* @v as exactly @width decimal digits at @p (no NUL). */
static void
usagelog_digits(char *p, unsigned v, int width)
{
    while (width-- > 0) {
        p[width] = (char) ('0' + v % 10);
        v /= 10;
    }
}

/* The UTC day of @unix_ms as "YYYY-MM-DD". */
static void
usagelog_day(int64_t unix_ms, char day[11])
{
    int64_t   secs = unix_ms / 1000 - (unix_ms % 1000 < 0);
    time_t    t = (time_t) secs;
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999
        || tm.tm_year + 1900 < 0) {
        snprintf(day, 11, "0000-00-00");
        return;
    }
    /* By hand: the ranges are checked, but snprintf's checker cannot
     * know tm's fields are small. */
    usagelog_digits(day, (unsigned) (tm.tm_year + 1900), 4);
    day[4] = '-';
    usagelog_digits(day + 5, (unsigned) (tm.tm_mon + 1), 2);
    day[7] = '-';
    usagelog_digits(day + 8, (unsigned) tm.tm_mday, 2);
    day[10] = '\0';
}

static int64_t
usagelog_add(int64_t a, int64_t b)
{
    int64_t sum;

    if (__builtin_add_overflow(a, b, &sum)) {
        return b > 0 ? INT64_MAX : INT64_MIN;
    }
    return sum;
}

static int
usagelog_agg_add(const fg_usage_record_t *rec, const char *node, void *arg,
                 fg_err_t *err)
{
    usagelog_agg_t             *agg = arg;
    const fg_usagelog_filter_t *f = agg->filter;
    const char                 *model;
    usagelog_row_t             *row;
    json_t                     *at;
    char                        day[11];
    char                        id[11 + sizeof(rec->key_id)
                                   + sizeof(rec->model_served) + 2];

    (void) node;
    (void) err;
    usagelog_day(rec->started_unix_ms, day);
    if (f != NULL
        && ((f->key_id != NULL && f->key_id[0] != '\0'
             && strcmp(f->key_id, rec->key_id) != 0)
            || (f->day_from != NULL && f->day_from[0] != '\0'
                && strcmp(day, f->day_from) < 0)
            || (f->day_to != NULL && f->day_to[0] != '\0'
                && strcmp(day, f->day_to) > 0))) {
        return FG_OK;
    }
    model = rec->model_served[0] != '\0' ? rec->model_served
                                         : rec->model_requested;

    /* Strings are clean (no control characters): '\n' separates. */
    snprintf(id, sizeof(id), "%s\n%s\n%s", day, rec->key_id, model);
    at = json_object_get(agg->index, id);
    if (at != NULL) {
        row = &agg->rows[json_integer_value(at)];
    } else {
        if (agg->n == agg->cap) {
            agg->cap = agg->cap == 0 ? 16 : agg->cap * 2;
            agg->rows = fg_xrealloc(agg->rows,
                                    agg->cap * sizeof(agg->rows[0]));
        }
        row = &agg->rows[agg->n];
        memset(row, 0, sizeof(*row));
        snprintf(row->key_id, sizeof(row->key_id), "%s", rec->key_id);
        snprintf(row->model, sizeof(row->model), "%s", model);
        memcpy(row->day, day, sizeof(row->day));
        json_object_set_new(agg->index, id,
                            json_integer((json_int_t) agg->n));
        agg->n++;
    }
    row->requests = usagelog_add(row->requests, 1);
    row->prompt = usagelog_add(row->prompt, rec->prompt_tokens);
    row->completion = usagelog_add(row->completion, rec->completion_tokens);
    row->reasoning = usagelog_add(row->reasoning, rec->reasoning_tokens);
    row->cached = usagelog_add(row->cached, rec->cached_tokens);
    row->charged = usagelog_add(row->charged, rec->charged_micro);
    row->uncharged = usagelog_add(row->uncharged, rec->uncharged_micro);
    row->estimated += (rec->flags & FG_USAGE_ESTIMATED) != 0;
    row->errors += rec->error_code[0] != '\0';
    row->energy_kwh += rec->energy_kwh;
    row->carbon_g_co2 += rec->carbon_g_co2;
    row->water_liters += rec->water_liters;
    agg->records++;
    return FG_OK;
}

static int
usagelog_row_cmp(const void *a, const void *b)
{
    const usagelog_row_t *x = a, *y = b;
    int                   c;

    c = strcmp(x->day, y->day);
    if (c == 0) {
        c = strcmp(x->key_id, y->key_id);
    }
    return c != 0 ? c : strcmp(x->model, y->model);
}

static json_t *
usagelog_row_json(const usagelog_row_t *row, int with_ids)
{
    json_t *obj = json_object();

    if (with_ids) {
        json_object_set_new(obj, "key_id", json_string(row->key_id));
        json_object_set_new(obj, "model", json_string(row->model));
        json_object_set_new(obj, "day", json_string(row->day));
    }
    json_object_set_new(obj, "requests", json_integer(row->requests));
    json_object_set_new(obj, "prompt_tokens", json_integer(row->prompt));
    json_object_set_new(obj, "completion_tokens",
                        json_integer(row->completion));
    json_object_set_new(obj, "reasoning_tokens",
                        json_integer(row->reasoning));
    json_object_set_new(obj, "cached_tokens", json_integer(row->cached));
    json_object_set_new(obj, "charged_micro", json_integer(row->charged));
    json_object_set_new(obj, "uncharged_micro",
                        json_integer(row->uncharged));
    json_object_set_new(obj, "energy_kwh", json_real(row->energy_kwh));
    json_object_set_new(obj, "carbon_g_co2", json_real(row->carbon_g_co2));
    json_object_set_new(obj, "water_liters", json_real(row->water_liters));
    json_object_set_new(obj, "estimated", json_integer(row->estimated));
    json_object_set_new(obj, "errors", json_integer(row->errors));
    return obj;
}

int
fg_usagelog_filter_check(const fg_usagelog_filter_t *filter, fg_err_t *err)
{
    if (filter != NULL
        && ((filter->day_from != NULL && filter->day_from[0] != '\0'
             && !usagelog_day_ok(filter->day_from))
            || (filter->day_to != NULL && filter->day_to[0] != '\0'
                && !usagelog_day_ok(filter->day_to)))) {
        return fg_err_set(err, FG_E_INVALID_VALUE, "day",
                          "a day is written YYYY-MM-DD");
    }
    return FG_OK;
}

json_t *
fg_usagelog_aggregate(const char *path, const fg_usagelog_filter_t *filter,
                      fg_err_t *err)
{
    usagelog_agg_t     agg;
    usagelog_row_t     total;
    fg_usagelog_scan_t st;
    json_t            *rows, *out;
    size_t             i, files = 0;

    if (filter != NULL
        && ((filter->day_from != NULL && filter->day_from[0] != '\0'
             && !usagelog_day_ok(filter->day_from))
            || (filter->day_to != NULL && filter->day_to[0] != '\0'
                && !usagelog_day_ok(filter->day_to)))) {
        fg_err_set(err, FG_E_INVALID_VALUE, "day",
                   "a day is written YYYY-MM-DD");
        return NULL;
    }
    memset(&agg, 0, sizeof(agg));
    agg.filter = filter;
    agg.index = json_object();
    if (usagelog_read_all(path, usagelog_agg_add, &agg, &st, &files, err)
        != FG_OK) {
        json_decref(agg.index);
        free(agg.rows);
        return NULL;
    }
    json_decref(agg.index);
    if (agg.n > 1) {
        qsort(agg.rows, agg.n, sizeof(agg.rows[0]), usagelog_row_cmp);
    }

    memset(&total, 0, sizeof(total));
    rows = json_array();
    for (i = 0; i < agg.n; i++) {
        const usagelog_row_t *row = &agg.rows[i];

        json_array_append_new(rows, usagelog_row_json(row, 1));
        total.requests = usagelog_add(total.requests, row->requests);
        total.prompt = usagelog_add(total.prompt, row->prompt);
        total.completion = usagelog_add(total.completion, row->completion);
        total.reasoning = usagelog_add(total.reasoning, row->reasoning);
        total.cached = usagelog_add(total.cached, row->cached);
        total.charged = usagelog_add(total.charged, row->charged);
        total.uncharged = usagelog_add(total.uncharged, row->uncharged);
        total.estimated += row->estimated;
        total.errors += row->errors;
        total.energy_kwh += row->energy_kwh;
        total.carbon_g_co2 += row->carbon_g_co2;
        total.water_liters += row->water_liters;
    }
    free(agg.rows);
    out = json_object();
    json_object_set_new(out, "rows", rows);
    json_object_set_new(out, "totals", usagelog_row_json(&total, 0));
    json_object_set_new(out, "records", json_integer((json_int_t) agg.records));
    json_object_set_new(out, "files", json_integer((json_int_t) files));
    json_object_set_new(out, "has_torn_tail",
                        json_boolean(st.has_torn_tail));
    return out;
}
