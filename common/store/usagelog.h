#ifndef FG_COMMON_USAGELOG_H
#define FG_COMMON_USAGELOG_H

/*
 * The usage journal: the durable file in the data folder that the syncer
 * appends the drained usage records (common/accounts/usage.h) to, and that the
 * admin "usage" aggregation reads. One record per line, JSON:
 *
 *   {"v":2,"node":"n1","seq":42,"ring":3,"request_id":"req_…",…,
 *    "crc":"1a2b3c4d"}\n
 *
 * "v" is the line format, "node" the node that wrote it, then every
 * member of fg_usage_to_json(), then "crc": the CRC-32C
 * (fg_frame_crc32c) of every byte of the line before `,"crc":`, as
 * eight lowercase hex digits. (node, seq) names a record: seq is unique
 * per node and increases within a ring, not across rings, so lines of
 * different rings interleave in the file out of numeric order.
 *
 * Versions: the writer writes FG_USAGELOG_VERSION (2, the record with
 * two ids, flags, api, uncharged_micro and attempts); the readers (open,
 * fg_usagelog_read, the aggregation) take every line of version 1 too,
 * the 392-byte record's format (fg_usage_from_json() says how its fields
 * read), so a journal written before an upgrade stays readable and new
 * lines are appended after the old ones. The framing (a CRC per line,
 * the torn-tail rule) is the same for every version.
 *
 * Durability is the caller's to pace: fg_usagelog_append() writes a batch
 * with one write(2), fg_usagelog_sync() makes everything appended
 * durable, and fg_usagelog_sync_wait_ms() says when the group-commit
 * policy wants the next sync. A write or fdatasync error is sticky: every
 * later append and sync fails with it, since after EIO the kernel may
 * have dropped the pages and a retried fsync would succeed over lost data
 * (reliability.md 3.3). The owner must then stop billable admission.
 *
 * Library code: no logging; errors through fg_err_t (FG_E_INTERNAL for
 * I/O and corruption, FG_E_INVALID_VALUE / FG_E_OUT_OF_RANGE for bad
 * arguments). Every function that takes a path blocks on disk: call them
 * from the syncer (or an admin command), never from a worker.
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/base/errors.h"
#include "common/accounts/usage.h"

#ifndef FG_MUST_USE
#define FG_MUST_USE __attribute__((warn_unused_result))
#endif

#define FG_USAGELOG_VERSION    FG_USAGE_JSON_VERSION  /* written */
#define FG_USAGELOG_NODE_MAX   63        /* bytes of a node id */
#define FG_USAGELOG_LINE_MAX   8192      /* longer is not a record */
#define FG_USAGELOG_RINGS_MAX  65536     /* ring indexes accepted */

typedef struct fg_usagelog_s fg_usagelog_t;

/* What a scan of the file found (at open, or by the reader). */
typedef struct {
    uint64_t records;          /* valid lines */
    uint64_t last_seq;         /* the highest seq among them; 0 if none */
    uint64_t valid_bytes;      /* the length of the valid part */
    int      has_torn_tail;    /* invalid line(s) at the end, none valid
                                  after them */
    uint64_t dropped_offset;   /* where that tail starts */
    uint64_t dropped_bytes;    /* its length */
    uint64_t first_seq;        /* seq of the first valid line; 0 if none */
    int      is_damaged;       /* the read failed on damage: an invalid
                                  line before a valid one, or a seq that
                                  does not increase; records and
                                  valid_bytes count what precedes it */
    uint64_t damaged_offset;   /* where the damage starts */
} fg_usagelog_scan_t;

/*
 * A position in the usage journal: the file, and the bytes of it that
 * come before. A file's id is the seq of its first line (seqs are unique
 * per node and never reused, so a rotated file keeps its id whatever it
 * is renamed to); 0 names a file that was empty then, i.e. the one that
 * followed the last file with lines. The persisted balances name the
 * position whose records they include (docs/architecture.md, "cold
 * start"): retention must keep every file from that one on.
 */
typedef struct {
    uint64_t file_id;
    uint64_t offset;
} fg_usagelog_pos_t;

/* Group commit: sync once this many records wait, or once the oldest
 * unsynced one has waited this long (e.g. 256 and 50 ms). */
typedef struct {
    uint64_t max_pending;      /* 0: sync after every append */
    int64_t  max_delay_ms;
} fg_usagelog_policy_t;

/* Which records the aggregation counts. NULL or "": no filter. Days are
 * UTC, "YYYY-MM-DD", both inclusive. */
typedef struct {
    const char *key_id;
    const char *day_from;
    const char *day_to;
} fg_usagelog_filter_t;

/*
 * Called once per valid record, in file order, with the node that wrote
 * it (borrowed, valid during the call). Returns FG_OK to go on, or FG_ERR
 * (with @err set) to stop the read, which then fails with it.
 */
typedef int (*fg_usagelog_read_cb)(const fg_usage_record_t *rec,
                                   const char *node, void *arg,
                                   fg_err_t *err);

/*
 * Opens the journal @path for appending as node @node (1..63 bytes of
 * [A-Za-z0-9._-]), creating it (0600, directory fsync'd) when missing.
 * The file is scanned first, every line checked (CRC, JSON, fields):
 * 1) invalid lines at the end with no valid line after them (a crash
 *    mid-write: a line without its newline, a bad CRC, zeros) are a torn
 *    tail: the file is truncated to its valid part and fsync'd, and
 *    @scan says what was cut; the caller logs that warning;
 * 2) an invalid line followed by a valid one, or a seq that does not
 *    increase within its ring, is damage: FG_ERR, nothing is changed.
 * The scan also rebuilds the last seq of every ring, for the dedupe of
 * fg_usagelog_append(). Returns an owned journal (close it with
 * fg_usagelog_close()), or NULL with @err set. @scan may be NULL.
 */
fg_usagelog_t *fg_usagelog_open(const char *path, const char *node,
                                fg_usagelog_scan_t *scan, fg_err_t *err);

/* Closes @log without a sync and frees it. Accepts NULL. */
void fg_usagelog_close(fg_usagelog_t *log);

/*
 * Appends the @n records at @recs (in the order the ring gave them) with
 * one write(2). A record whose seq is not above the last seq already
 * written for its ring is a re-delivery (the syncer died between a write
 * and its ring commit) and is skipped. *@written (may be NULL) gets the
 * number of lines written; *@written + skipped == @n. @now_ms starts the
 * group-commit clock when nothing was pending. The lines are durable
 * only after fg_usagelog_sync(). Returns FG_OK, or FG_ERR with @err set:
 * a record with seq 0 or a ring >= FG_USAGELOG_RINGS_MAX changes nothing;
 * a failed or short write makes the journal failed for good (sticky).
 */
FG_MUST_USE int fg_usagelog_append(fg_usagelog_t *log,
                                   const fg_usage_record_t *recs, size_t n,
                                   int64_t now_ms, size_t *written,
                                   fg_err_t *err);

/*
 * Makes every appended line durable (fdatasync; nothing to do when none
 * is pending). Returns FG_OK, or FG_ERR with @err set; the error is
 * sticky: this and every later append and sync fail with the first
 * reason.
 */
FG_MUST_USE int fg_usagelog_sync(fg_usagelog_t *log, fg_err_t *err);

/*
 * The group-commit policy: -1 when nothing is pending, 0 when a sync is
 * due now (max_pending records wait, or the oldest waited max_delay_ms),
 * else the milliseconds until it will be (for the syncer's timer).
 */
int64_t fg_usagelog_sync_wait_ms(const fg_usagelog_t *log,
                                 const fg_usagelog_policy_t *policy,
                                 int64_t now_ms);

/* The end of what was appended (durable after the next sync). */
void fg_usagelog_position(const fg_usagelog_t *log, fg_usagelog_pos_t *pos);

/* Lines appended since the last sync. */
uint64_t fg_usagelog_pending(const fg_usagelog_t *log);

/* The highest seq in the journal (0 when empty): the syncer raises the
 * rings' sequence above it (fg_usagering_raise_seq). */
uint64_t fg_usagelog_last_seq(const fg_usagelog_t *log);

/* The last seq written for @ring (0: none yet). */
uint64_t fg_usagelog_ring_seq(const fg_usagelog_t *log, unsigned ring);

/* Re-delivered records skipped since open. */
uint64_t fg_usagelog_duplicates(const fg_usagelog_t *log);

/* 1 once a write or sync failed (see fg_usagelog_sync), else 0. */
int fg_usagelog_has_failed(const fg_usagelog_t *log);

/* The file descriptor (borrowed; for fstat and tests). */
int fg_usagelog_fd(const fg_usagelog_t *log);

/*
 * Streams the records of @path back to @cb, without changing the file
 * (so it may be read while the syncer appends). A missing file holds no
 * record. Invalid lines at the end are not delivered and set
 * has_torn_tail (a line being written now looks like that); an invalid
 * line followed by a valid one is an error. On FG_ERR @cb may already
 * have seen a prefix. @scan may be NULL.
 */
FG_MUST_USE int fg_usagelog_read(const char *path, fg_usagelog_read_cb cb,
                                 void *arg, fg_usagelog_scan_t *scan,
                                 fg_err_t *err);

/* ---- rotation and retention ------------------------------------------
 *
 * The journal is a series of files: the one being written, @path
 * ("usage.journal"), and the rolled ones before it, "@path.<id>" with
 * <id> a decimal of at least six digits (usage.journal.000001, …). Each
 * file has an id: a rolled file keeps the one in its name, the current
 * file's is one above the highest rolled id (1 when none). Ids only grow,
 * so (file id, byte offset) names a position in the whole journal. A
 * roll renames the current file to its id's name and starts an empty
 * one; readers (fg_usagelog_aggregate, `fluxgate-admin store check`)
 * read the rolled files in id order, then the current one.
 */

#define FG_USAGELOG_ROLLED_MAX 1000000   /* rolled files listed; more is
                                            an error */

typedef struct {
    uint64_t id;
    uint64_t bytes;
    int64_t  mtime_unix_s;
} fg_usagelog_file_t;

/* "@path.<id>" into @out (@size bytes). FG_ERR when it does not fit. */
int fg_usagelog_rolled_path(const char *path, uint64_t id, char *out,
                            size_t size);

/*
 * Called for every valid line at or after the replay's offset, in file
 * order, with the offset just after it (the position that includes it).
 */
typedef int (*fg_usagelog_replay_cb)(const fg_usage_record_t *rec,
                                     const char *node, uint64_t end_offset,
                                     void *arg, fg_err_t *err);

/*
 * fg_usagelog_read() from @from_offset on: the lines before it are
 * checked (CRC and head: damage before the offset is still an error) but
 * not decoded, so a replay of the last second of a large journal costs a
 * CRC pass, not a parse. @scan covers the whole file (first_seq is the
 * file's id).
 */
FG_MUST_USE int fg_usagelog_replay(const char *path, uint64_t from_offset,
                                   fg_usagelog_replay_cb cb, void *arg,
                                   fg_usagelog_scan_t *scan, fg_err_t *err);

/*
 * The rolled files of @path, sorted by id, in *@files (owned, free()) and
 * *@n. Names that are not "@path.<digits>" are not journal files (a file
 * set aside as "@path.damaged-…" is not read). Returns FG_OK, or FG_ERR
 * with @err set (the folder cannot be read, more than
 * FG_USAGELOG_ROLLED_MAX files).
 */
int fg_usagelog_list_rolled(const char *path, fg_usagelog_file_t **files,
                            size_t *n, fg_err_t *err);

/* The id of the file being written (see above). */
uint64_t fg_usagelog_file_id(const fg_usagelog_t *log);

/* The size of the file being written, in bytes. */
uint64_t fg_usagelog_bytes(const fg_usagelog_t *log);

/*
 * Rolls the journal: the current file becomes "@path.<its id>" and an
 * empty one takes its place (the folder fsync'd after each step). Only
 * with nothing pending (after fg_usagelog_sync): FG_E_INVALID_VALUE
 * otherwise, nothing changed. The dedupe state carries over. A failure
 * after the rename is sticky, like a failed write.
 */
FG_MUST_USE int fg_usagelog_roll(fg_usagelog_t *log, fg_err_t *err);

/* What retention may delete. 0 in a field: no limit of that kind. */
typedef struct {
    int64_t  max_age_s;        /* rolled files last written before now -
                                  this */
    uint64_t max_bytes;        /* the oldest rolled files while every file,
                                  the current one included, holds more */
    uint64_t keep_from_id;     /* never a file of this id or above */
} fg_usagelog_retention_t;

/*
 * Deletes the oldest rolled files of @log's journal that @r allows, in id
 * order, stopping at the first it must keep; never the current file, and
 * never the newest rolled one (the next open numbers files on from it). The
 * folder is fsync'd after a deletion. *@deleted (may be NULL) gets how
 * many. Returns FG_OK or FG_ERR with @err set.
 */
FG_MUST_USE int fg_usagelog_retain(const fg_usagelog_t *log,
                                   const fg_usagelog_retention_t *r,
                                   int64_t now_unix_s, unsigned *deleted,
                                   fg_err_t *err);

/*
 * Totals of the records of the journal @path, its rolled files included
 * (in id order, then the current file), that pass @filter (may be NULL), per
 * key, model (the served one, or the requested one when none was
 * served) and UTC day of the request's start:
 *
 *   {"rows": [{"key_id", "model", "day", "requests", "prompt_tokens",
 *              "completion_tokens", "reasoning_tokens", "cached_tokens",
 *              "charged_micro", "uncharged_micro", "energy_kwh",
 *              "carbon_g_co2", "water_liters", "estimated", "errors"}, …],
 *    "totals": {the same sums over every row},
 *    "records": n, "files": n, "has_torn_tail": bool}
 *
 * rows sorted by day, key, model; "estimated" counts records with
 * estimated usage, "errors" those with an error code.
 * Integer sums saturate at INT64_MAX. Returns a new object, or NULL with
 * @err set (a bad filter: FG_E_INVALID_VALUE; a damaged file).
 */
/* FG_OK when @filter's days are "YYYY-MM-DD" (or empty), else FG_ERR
 * with @err set (FG_E_INVALID_VALUE, param "day"). */
int fg_usagelog_filter_check(const fg_usagelog_filter_t *filter,
                             fg_err_t *err);

json_t *fg_usagelog_aggregate(const char *path,
                              const fg_usagelog_filter_t *filter,
                              fg_err_t *err);

#endif
