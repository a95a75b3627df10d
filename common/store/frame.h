#ifndef FG_COMMON_FRAME_H
#define FG_COMMON_FRAME_H

/*
 * The framing the two append-only logs share: the store's journal
 * (common/store/journal.h, binary records) and the usage journal
 * (common/store/usagelog.h, JSON lines). Each format says how to tell a
 * whole, valid record at a position from anything else (a check
 * function); this module does the rest, the same way for both:
 *
 *   - the CRC-32C both formats carry;
 *   - the scan: every valid record handed out in file order, through a
 *     read-ahead window bounded by the format's longest record;
 *   - the torn-tail rule. An append-only writer that crashes leaves at
 *     most an invalid end (a record cut short, zeros where the file grew
 *     but the data never reached the disk), with no valid record after
 *     the first invalid byte: the scan reports that tail, and
 *     fg_frame_cut() removes it (Redis's aof-load-truncated). An invalid
 *     record followed by a valid one cannot come from such a crash: it is
 *     damage, and the scan refuses rather than guess which records to
 *     trust.
 *
 * What a record holds, its sequence rules and when to cut are the
 * formats' business. Library code: no logging; errors through fg_err_t
 * (FG_E_INTERNAL). The functions that take a descriptor block on disk.
 */

#include <stddef.h>
#include <stdint.h>

#include "common/base/errors.h"

/* What a format's check found at a position. */
typedef enum {
    FG_FRAME_VALID = 0,     /* a whole, valid record of *len bytes */
    FG_FRAME_INVALID,       /* not a record: look again *len bytes on */
    FG_FRAME_MORE           /* cannot tell from @avail bytes: call again
                               with at least *len (> @avail) */
} fg_frame_verdict_t;

/*
 * Looks at the @avail bytes at @p, the file from this position on
 * (@is_eof: nothing follows them; a check never answers MORE then), and
 * sets *@len as its verdict says; an INVALID step is at least 1 byte.
 * @arg is the scan's. A format may remember what it decoded in @arg for
 * the callback that follows a VALID verdict.
 */
typedef fg_frame_verdict_t (*fg_frame_check_fn)(const uint8_t *p,
                                                size_t avail, int is_eof,
                                                size_t *len, void *arg);

typedef struct {
    const char        *noun;        /* "record", "line": for messages */
    size_t             max_record;  /* bytes; no MORE asks beyond it */
    fg_frame_check_fn  check;
} fg_frame_format_t;

/*
 * Called once per valid record, in file order, with its bytes (borrowed,
 * valid during the call), its length and its offset. Returns FG_OK to go
 * on, or FG_ERR (with @err set) to stop the scan, which fails with it.
 */
typedef int (*fg_frame_record_cb)(const uint8_t *rec, size_t len,
                                  uint64_t offset, void *arg, fg_err_t *err);

/* What a scan found. */
typedef struct {
    uint64_t records;          /* valid records handed to the callback */
    uint64_t valid_bytes;      /* the length of the valid part */
    int      has_torn_tail;    /* invalid bytes at the end, no valid
                                  record after them */
    uint64_t dropped_offset;   /* where that tail starts */
    uint64_t dropped_bytes;    /* its length */
    int      is_damaged;       /* the scan stopped at damage (FG_ERR):
                                  records and valid_bytes say what came
                                  before it */
    uint64_t damaged_offset;   /* the first invalid byte */
    uint64_t resumed_offset;   /* the valid record found after it */
} fg_frame_scan_t;

/*
 * CRC-32C (Castagnoli, reflected polynomial 0x82f63b78) of @n bytes at
 * @p, continuing from @crc (0 to start): chaining two calls gives the CRC
 * of the concatenation. Table-driven, one byte per step: a scan is bound
 * by the disk, and it needs no CPU feature detection. Cannot fail.
 */
uint32_t fg_frame_crc32c(uint32_t crc, const void *p, size_t n);

/* The same CRC by the table alone, whatever the processor offers: for the
 * tests that compare it with the instruction's. */
uint32_t fg_frame_crc32c_portable(uint32_t crc, const void *p, size_t n);

/*
 * Scans the regular file open at @fd (named @path in messages) from its
 * start to its size at the call, as @fmt frames it: @cb (may be NULL)
 * gets every valid record, @st the verdict on what follows the last one.
 * Returns FG_OK (a torn tail included: see @st), or FG_ERR with @err set
 * on a read error, a file that is not regular, damage (an invalid record
 * before a valid one), or an error of @cb. On FG_ERR @cb may have seen a
 * prefix. Nothing is written.
 */
int fg_frame_scan(int fd, const char *path, const fg_frame_format_t *fmt,
                  fg_frame_record_cb cb, void *arg, fg_frame_scan_t *st,
                  fg_err_t *err);

/*
 * Cuts the torn tail @st found off the file open (writable) at @fd and
 * fsyncs it, so the next append follows a valid record. Nothing to do
 * without a torn tail. Returns FG_OK or FG_ERR with @err set.
 */
int fg_frame_cut(int fd, const char *path, const fg_frame_scan_t *st,
                 fg_err_t *err);

#endif
