#ifndef FG_COMMON_USAGERING_H
#define FG_COMMON_USAGERING_H

/*
 * The usage rings: a region of the shm arena holding one
 * single-producer/single-consumer ring of usage records
 * (common/accounts/usage.h) per worker slot, plus one for the master's recovery
 * records (fg_usagering_master()). The producer is the worker of that
 * slot (the master for its ring); the consumer is the syncer, which
 * copies records out, appends them to the usage journal, and only then
 * commits, so a crash in between re-delivers rather than loses (the
 * journal drops a re-delivered record by its (ring, seq)).
 *
 * A full ring refuses the push: the caller turns that into back-pressure
 * (503 for new billable requests), never into a dropped record. A worker
 * keeps the invariant "free space > billable requests in flight" by
 * refusing new ones when fg_usagering_free() is not above its count.
 *
 * Layout (bytes from the region's start; offsets are 64-byte aligned):
 *
 *      0  header: magic, rings, capacity, ring stride, rings offset
 *     64  the next sequence number (one atomic word on its own line)
 *    128  the active-ring bitmap, one bit per ring, set at first push
 *      …  ring i at rings offset + i * stride: its head (64-byte line),
 *         its tail (next line), then capacity records of 392 bytes
 *
 * Positions (head, tail) are 64-bit counts that never wrap; a record's
 * slot is position % capacity. The producer writes the whole record into
 * the slot at head, then publishes it by storing head + 1 (release); the
 * consumer reads head (acquire) before it copies. So a producer killed at
 * any instruction leaves a ring whose published records are whole, in
 * order, with nothing after them: a clean prefix. A ring is touched only
 * when used, so the untouched rings of a large arena cost address space,
 * not memory.
 *
 * Library code: no logging, no syscalls; nothing here blocks.
 */

#include <stddef.h>
#include <stdint.h>

#include "common/base/errors.h"
#include "common/accounts/usage.h"

#ifndef FG_MUST_USE
#define FG_MUST_USE __attribute__((warn_unused_result))
#endif

#define FG_USAGERING_CAPACITY_MAX  (1u << 20)   /* records per ring */
#define FG_USAGERING_WORKERS_MAX   4096

typedef struct fg_usagering_s fg_usagering_t;

/*
 * Bytes of the region for @workers worker rings (plus the master's) of
 * @capacity records each; 0 when either is 0 or too large.
 */
size_t fg_usagering_bytes(unsigned workers, uint32_t capacity);

/*
 * Lays out the rings in @mem: @bytes (at least fg_usagering_bytes()),
 * zero-filled (fresh anonymous memory), 64-byte aligned. Only the header
 * is written; the rings stay untouched. Sequences start at 1. Returns the
 * region, or NULL with @err set. Master, before forking.
 */
fg_usagering_t *fg_usagering_init(void *mem, size_t bytes, unsigned workers,
                                  uint32_t capacity, fg_err_t *err);

/* The number of rings (workers + 1), the master's ring (the last one),
 * and the capacity of each. */
unsigned fg_usagering_rings(const fg_usagering_t *r);
unsigned fg_usagering_master(const fg_usagering_t *r);
uint32_t fg_usagering_capacity(const fg_usagering_t *r);

/*
 * Producer: copies @rec onto @ring, setting its seq (the next node-local
 * sequence number: unique in the region, increasing within a ring) and
 * its ring index, and publishes it. *@seq (may be NULL) gets the number.
 * Returns FG_OK, or FG_ERR when the ring is full or @ring is out of range
 * (nothing is written). Only the ring's own producer may call it: one
 * process, one thread at a time. Never blocks; no syscalls.
 */
FG_MUST_USE int fg_usagering_push(fg_usagering_t *r, unsigned ring,
                                  const fg_usage_record_t *rec,
                                  uint64_t *seq);

/* Records @ring can take now (0 for a bad ring). Any process. */
uint32_t fg_usagering_free(const fg_usagering_t *r, unsigned ring);

/*
 * Positions of @ring (0 for a bad ring): records ever pushed, and records
 * the consumer committed (durable in the journal). A producer that wants
 * to know when its record is durable keeps fg_usagering_pushed() after
 * its push and waits for fg_usagering_committed() to reach it. Any
 * process; never blocks.
 */
uint64_t fg_usagering_pushed(const fg_usagering_t *r, unsigned ring);
uint64_t fg_usagering_committed(const fg_usagering_t *r, unsigned ring);

/* Records waiting on @ring (0 for a bad ring), and on every ring. Any
 * process; only rings that were ever pushed to are read. */
uint32_t fg_usagering_depth(const fg_usagering_t *r, unsigned ring);
uint64_t fg_usagering_depth_total(const fg_usagering_t *r);

/*
 * Copies the oldest record waiting on @ring (pushed, not yet committed by
 * the consumer) into @out: for a reader that is neither side (the
 * metrics' backlog age). Returns 1 with @out whole, or 0 when the ring is
 * empty, bad, or the consumer freed the record while it was copied (read
 * again for the new oldest). Any process; never blocks.
 */
int fg_usagering_oldest(const fg_usagering_t *r, unsigned ring,
                        fg_usage_record_t *out);

/*
 * The first ring at or after @from that was ever pushed to, or -1: the
 * consumer's walk over the rings worth draining, touching no other.
 *   for (i = fg_usagering_next_active(r, 0); i >= 0;
 *        i = fg_usagering_next_active(r, i + 1)) …
 */
int fg_usagering_next_active(const fg_usagering_t *r, unsigned from);

/*
 * Consumer, step 1: copies up to @max of the records waiting on @ring,
 * after skipping the first @skip of them (records copied before but not
 * yet committed), into @out, oldest first; *@n gets the count (0 when
 * none). Nothing leaves the ring. Returns FG_OK, or FG_ERR for a bad
 * ring or a ring whose positions are impossible (damaged memory).
 * The syncer only; never blocks.
 */
FG_MUST_USE int fg_usagering_drain(fg_usagering_t *r, unsigned ring,
                                   size_t skip, fg_usage_record_t *out,
                                   size_t max, size_t *n);

/*
 * Consumer, step 2: frees the oldest @n records of @ring for the
 * producer. Call it once the journal holds them: after the journal write
 * (a process crash then re-delivers nothing lost), or better after the
 * fdatasync that covers them (a fsync failure then loses nothing either:
 * the records stay in the ring). Returns FG_OK, or FG_ERR (nothing
 * changes) when fewer than @n records are waiting or @ring is bad.
 */
FG_MUST_USE int fg_usagering_commit(fg_usagering_t *r, unsigned ring,
                                    size_t n);

/*
 * The sequence the next push gets, and raising it to at least @next_seq
 * (never lowering it). A new arena starts at 1; the syncer raises it
 * above the journal's last sequence (fg_usagelog_last_seq() + 1) before
 * any record can be pushed (before keys are loaded: no request passes
 * authentication earlier), or the journal would take new records for
 * re-deliveries and drop them. Any process; never blocks.
 */
uint64_t fg_usagering_next_seq(const fg_usagering_t *r);
void fg_usagering_raise_seq(fg_usagering_t *r, uint64_t next_seq);

#endif
