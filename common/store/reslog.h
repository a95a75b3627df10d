#ifndef FG_STORE_RESLOG_H
#define FG_STORE_RESLOG_H

/*
 * The reservation log: what makes a reservation held when the machine
 * stopped settle after a cold start (docs/architecture.md, "cold start").
 *
 * A worker pushes a reservation record (FG_USAGE_RESERVATION, the amount
 * held in charged_micro) onto its usage ring right after it reserves, and
 * calls the upstream only once the syncer committed it, i.e. once it is
 * durable here. When the request's usage record reaches the usage journal,
 * a close entry (FG_USAGE_RESERVATION_END, that record's ring and seq) is
 * appended here. The open reservations are the reservation entries
 * without a close entry: kept in memory (at most @max_open, the ledger's
 * slots), and the file is rewritten with only them when it passes
 * FG_RESLOG_COMPACT_BYTES. Same line format as the usage journal
 * (common/store/usagelog.h), so the same torn-tail rule and dedupe.
 *
 * Library code: errors through fg_err_t, no logging. The syncer's alone
 * (master/syncer.c): it blocks on disk.
 */

#include <stddef.h>
#include <stdint.h>

#include "common/base/errors.h"
#include "common/accounts/usage.h"

#define FG_RESLOG_COMPACT_BYTES (4u << 20)

typedef struct fg_reslog_s fg_reslog_t;

/* Opens (creates) the log at @path as @node and reads its open
 * reservations. NULL with @err set on damage or an I/O error. */
fg_reslog_t *fg_reslog_open(const char *path, const char *node,
                            size_t max_open, fg_err_t *err);

void fg_reslog_close(fg_reslog_t *rl);

/* A reservation record drained from a ring: open, appended at the next
 * flush. A re-delivered one changes nothing. */
void fg_reslog_reserve(fg_reslog_t *rl, const fg_usage_record_t *rec);

/* A usage record bound for the journal: if it ends an open reservation,
 * that one is closed (an entry appended at the next flush). Returns 1 when
 * it closed one. */
int fg_reslog_settle(fg_reslog_t *rl, const fg_usage_record_t *rec);

/* Appends what reserve and settle queued (one write). FG_ERR is sticky. */
int fg_reslog_flush(fg_reslog_t *rl, fg_err_t *err);

/* fdatasync of what was appended. FG_ERR is sticky. */
int fg_reslog_sync(fg_reslog_t *rl, fg_err_t *err);

/* Rewrites the file with only the open reservations when it passed
 * FG_RESLOG_COMPACT_BYTES (call with everything flushed and synced).
 * 1 when it did, 0 when not needed, FG_ERR on failure (the old file is
 * still whole). */
int fg_reslog_compact(fg_reslog_t *rl, fg_err_t *err);

/* The open reservations: count, and the i-th (i < count). */
size_t fg_reslog_open_count(const fg_reslog_t *rl);
const fg_usage_record_t *fg_reslog_open_at(const fg_reslog_t *rl, size_t i);

/* The open reservation of request @request_id (the gateway's id), or
 * NULL. Valid until the next reserve or settle. */
const fg_usage_record_t *fg_reslog_held(const fg_reslog_t *rl,
                                        const char *request_id);

/* The highest seq in the file: sequences must be raised above it. */
uint64_t fg_reslog_last_seq(const fg_reslog_t *rl);

#endif
