#ifndef FG_COMMON_USAGEREPAIR_H
#define FG_COMMON_USAGEREPAIR_H

/*
 * Checking and repairing the usage journal's files offline
 * (`fluxgate-admin store check|repair`, docs/operations.md, "A damaged
 * usage journal"). Damage is what common/store/frame.h calls it: an
 * invalid line followed by a valid one, or a seq that does not increase
 * within its ring; a crash never leaves it, so the syncer refuses to
 * start on it rather than guess. A repair keeps the records before the
 * damage: the file is set aside whole as "<file>.damaged-<UTC time>" (no
 * byte is lost; an operator may salvage more by hand) and a new file
 * with the lines before the damage takes its name.
 *
 * Library code: no logging, errors through fg_err_t. Blocks on disk; for
 * an admin command with the gateway stopped (the caller checks).
 */

#include <limits.h>
#include <stdint.h>

#include "common/base/errors.h"

typedef struct {
    uint64_t id;                   /* the file's id (usagelog.h) */
    int      is_current;           /* the file being written */
    char     path[PATH_MAX];
    uint64_t bytes;
    uint64_t records;              /* valid records; before the damage when
                                      damaged */
    int      is_damaged;
    uint64_t damaged_offset;       /* the first byte not kept by a repair */
    int      has_torn_tail;        /* cut at the next start: not damage */
    char     problem[FG_ERR_MSG_MAX];   /* the reader's words, "" if none */
} fg_usagecheck_t;

/*
 * Checks every file of the journal @path (the rolled ones in id order,
 * then the current one): *@out gets an owned array (free()) of *@n
 * results. Damage is a result, not an error. Returns FG_OK, or FG_ERR
 * with @err set when a file cannot be read at all.
 */
int fg_usagecheck_all(const char *path, fg_usagecheck_t **out, size_t *n,
                      fg_err_t *err);

/*
 * Repairs the damaged file @c (from fg_usagecheck_all()): sets it aside
 * as "<path>.damaged-<YYYYMMDDTHHMMSSZ of @now_unix_s>", named in @aside
 * (@aside_size bytes), and puts in its place a file of its first
 * @c->damaged_offset bytes (fsync'd, then the folder). Returns FG_OK, or
 * FG_ERR with @err set (the file is then as it was, or set aside with
 * nothing in its place: the error says which).
 */
int fg_usagecheck_repair(const fg_usagecheck_t *c, int64_t now_unix_s,
                         char *aside, size_t aside_size, fg_err_t *err);

#endif
