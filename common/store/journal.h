#ifndef FG_COMMON_JOURNAL_H
#define FG_COMMON_JOURNAL_H

/*
 * The durable embedded store's append-only journal and its snapshots.
 * A journal is a file of records, each framed as (little-endian):
 *
 *   offset  size  field
 *        0     4  magic "FGJR" (0x524a4746)
 *        4     4  CRC-32C (Castagnoli) of bytes 8 .. end of payload
 *        8     4  payload length in bytes (<= FG_JOURNAL_PAYLOAD_MAX)
 *       12     4  record type (callers' types are < FG_JOURNAL_TYPE_RESERVED)
 *       16     8  sequence number, strictly increasing within a file
 *       24     8  time, Unix milliseconds (passed in by the caller)
 *       32     n  payload (the callers put JSON there)
 *
 * The CRC is fg_frame_crc32c() (common/store/frame.h, shared with the
 * usage journal), not libsodium's. A snapshot uses the same framing: a
 * SNAPSHOT_BEGIN record (payload: the journal sequence it covers), the
 * entries numbered from 1, and a SNAPSHOT_END record (payload: the entry
 * count); it is written to
 * "<path>.tmp", fsync'd, renamed over <path>, and the directory fsync'd,
 * so a crash leaves the old snapshot or the new one. Recovery is: read the
 * snapshot, then replay the journal records whose sequence is above the
 * one it covers.
 *
 * Library code: no logging; errors through fg_err_t (FG_E_INTERNAL for
 * I/O and corruption, FG_E_INVALID_VALUE / FG_E_OUT_OF_RANGE for bad
 * arguments). Every function blocks on disk I/O: call them from the
 * process that owns the store (the syncer/admin process, or the master at
 * start-up), never from a worker's request path.
 */

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/base/errors.h"

#ifndef FG_MUST_USE
#define FG_MUST_USE __attribute__((warn_unused_result))
#endif

#define FG_JOURNAL_MAGIC                0x524a4746u   /* "FGJR" */
#define FG_JOURNAL_HEADER_BYTES         32
#define FG_JOURNAL_PAYLOAD_MAX          (1u << 20)
#define FG_JOURNAL_PATH_MAX             PATH_MAX
#define FG_JOURNAL_FAILURE_MAX          256

/* Types at and above FG_JOURNAL_TYPE_RESERVED are the journal's own. */
#define FG_JOURNAL_TYPE_RESERVED        0xffff0000u
#define FG_JOURNAL_TYPE_SNAPSHOT_BEGIN  0xffff0001u
#define FG_JOURNAL_TYPE_SNAPSHOT_END    0xffff0002u
#define FG_JOURNAL_TYPE_ROTATED         0xffff0003u

/*
 * An open journal. Fields are readable: next_seq - 1 is the sequence of
 * the last record appended, unsynced the records appended since the last
 * successful sync. Write them only through the functions below.
 */
typedef struct {
    int      fd;                           /* -1 when closed */
    int      has_failed;                   /* sticky; see fg_journal_sync */
    uint64_t next_seq;
    uint64_t size_bytes;                   /* offset the next record gets */
    uint64_t unsynced;
    char     path[FG_JOURNAL_PATH_MAX];
    char     failure[FG_JOURNAL_FAILURE_MAX];
} fg_journal_t;

/* One record as replay hands it out. */
typedef struct {
    uint32_t    type;
    uint64_t    seq;
    int64_t     time_ms;
    const void *payload;   /* borrowed; valid only during the callback */
    size_t      len;
    uint64_t    offset;    /* of the record's first byte in the file */
} fg_journal_entry_t;

/*
 * Called once per record, in file order. Returns FG_OK to go on, or
 * FG_ERR (with @err set) to stop the replay, which then fails with it.
 */
typedef int (*fg_journal_replay_cb)(const fg_journal_entry_t *e, void *arg,
                                    fg_err_t *err);

typedef struct {
    uint64_t records;          /* delivered to the callback */
    uint64_t last_seq;         /* of the last valid record, any type; 0 */
    uint64_t valid_bytes;      /* the file's length after replay */
    int      has_torn_tail;    /* a torn or corrupt tail was cut off */
    uint64_t dropped_offset;   /* where the cut was made */
    uint64_t dropped_bytes;    /* how much was cut */
} fg_replay_stats_t;

typedef struct {
    FILE    *f;                /* NULL once committed or aborted */
    uint64_t records;
    int64_t  time_ms;
    char     path[FG_JOURNAL_PATH_MAX];
    char     tmp[FG_JOURNAL_PATH_MAX];
} fg_journal_snapshot_t;

/*
 * Opens the journal @path for appending (O_APPEND, created 0600 with the
 * directory fsync'd when missing) into the caller's @j. The file is
 * scanned first: it must end on a whole, valid record, so a torn tail is
 * an error here ("replay it first") and mid-file corruption is refused;
 * next_seq continues after the last record. Returns FG_OK, or FG_ERR with
 * @err set and @j closed. Close with fg_journal_close().
 */
FG_MUST_USE int fg_journal_open(const char *path, fg_journal_t *j,
                                fg_err_t *err);

/*
 * Appends one record of @type (< FG_JOURNAL_TYPE_RESERVED) with the @len
 * bytes at @payload, the next sequence number and @now_ms, in one
 * writev(2). The record is durable only after fg_journal_sync(). Returns
 * FG_OK, or FG_ERR with @err set. A bad type or length changes nothing;
 * a failed or short write makes the journal failed (sticky, as for sync),
 * because the file may now end inside a record and nothing may follow it.
 */
FG_MUST_USE int fg_journal_append(fg_journal_t *j, uint32_t type,
                                  const void *payload, size_t len,
                                  int64_t now_ms, fg_err_t *err);

/*
 * Makes every record appended so far durable (fdatasync). An error is
 * returned and sticky: after it every append, sync and rotate fails with
 * the original reason, because after EIO the kernel may have dropped the
 * dirty pages and a retried fsync would report success for lost data.
 * The owner must stop, let the process restart and replay. Returns FG_OK
 * or FG_ERR with @err set.
 */
FG_MUST_USE int fg_journal_sync(fg_journal_t *j, fg_err_t *err);

/*
 * Replaces the journal with one that holds a single ROTATED record,
 * continuing the sequence, through "<path>.tmp", fsync, rename and a
 * directory fsync; a crash leaves the old journal or the new one. Call
 * after a snapshot covering @covered_seq is committed; refused (nothing
 * changes) when the journal holds records above @covered_seq, which would
 * be lost. The ROTATED record's sequence is above both the journal's last
 * and @covered_seq, so every later record is above what the snapshot
 * covers and recovery replays it, even when the snapshot covers more than
 * this journal held. Failures after the rename began are sticky. Returns
 * FG_OK or FG_ERR with @err set.
 */
FG_MUST_USE int fg_journal_rotate(fg_journal_t *j, uint64_t covered_seq,
                                  fg_err_t *err);

/* Closes @j (no sync). Accepts NULL and a closed journal. */
void fg_journal_close(fg_journal_t *j);

/*
 * Replays the journal @path: @cb gets every complete, checksum-valid
 * record of a caller's type, in order (the journal's own records are
 * skipped but count for last_seq). A missing file is an empty journal.
 *
 * 1) A tail that is not a valid record (short header or payload, bad
 *    magic or length, bad CRC) and is followed by no valid record is torn:
 *    @stats reports its offset and size, the file is truncated there and
 *    fsync'd, so later appends follow a valid record. FG_OK.
 * 2) An invalid record followed by a valid one, or a sequence number that
 *    does not increase, is corruption in the middle: FG_ERR, nothing is
 *    truncated (refuse, don't guess).
 *
 * On FG_ERR @cb may already have seen a prefix; the caller discards what
 * it built. @stats may be NULL. Call before fg_journal_open(), in the
 * process that will own the journal.
 */
FG_MUST_USE int fg_journal_replay(const char *path, fg_journal_replay_cb cb,
                                  void *arg, fg_replay_stats_t *stats,
                                  fg_err_t *err);

/*
 * Starts a snapshot of @path covering journal records up to
 * @covered_seq: opens "<path>.tmp" (0600, truncating a stale one) and
 * writes the BEGIN record. Returns FG_OK, or FG_ERR with @err set and
 * nothing to clean up.
 */
FG_MUST_USE int fg_journal_snapshot_begin(fg_journal_snapshot_t *s,
                                          const char *path,
                                          uint64_t covered_seq,
                                          int64_t now_ms, fg_err_t *err);

/*
 * Adds one entry (buffered). On FG_ERR the snapshot is aborted already.
 */
FG_MUST_USE int fg_journal_snapshot_add(fg_journal_snapshot_t *s,
                                        uint32_t type, const void *payload,
                                        size_t len, fg_err_t *err);

/*
 * Writes the END record, fsyncs, renames over the snapshot path and
 * fsyncs the directory. On FG_ERR the temporary file is removed and the
 * old snapshot, if any, is untouched, except when only that last
 * directory fsync failed: the new snapshot is then in place, but a crash
 * may still bring the old one back.
 */
FG_MUST_USE int fg_journal_snapshot_commit(fg_journal_snapshot_t *s,
                                           fg_err_t *err);

/* Drops an unfinished snapshot. Accepts a committed or aborted one. */
void fg_journal_snapshot_abort(fg_journal_snapshot_t *s);

/*
 * begin + one add per entry of @entries (type, payload, len used) +
 * commit. Returns FG_OK or FG_ERR with @err set.
 */
FG_MUST_USE int fg_journal_snapshot_write(const char *path,
                                          const fg_journal_entry_t *entries,
                                          size_t n, uint64_t covered_seq,
                                          int64_t now_ms, fg_err_t *err);

/*
 * Reads the snapshot @path: @cb gets each entry in order (seq is its
 * ordinal from 1); *@covered_seq is set to the journal sequence it
 * covers. Any invalid byte, a missing BEGIN or END, or an END whose count
 * differs is an error: snapshots are replaced atomically, so unlike a
 * journal they never have a torn tail. A missing file is an empty
 * snapshot covering nothing: FG_OK, no entries, *@covered_seq = 0.
 * On FG_ERR @cb may already have seen a prefix; discard what it built.
 */
FG_MUST_USE int fg_journal_snapshot_read(const char *path,
                                         fg_journal_replay_cb cb, void *arg,
                                         uint64_t *covered_seq,
                                         fg_err_t *err);

#endif
