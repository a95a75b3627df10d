#ifndef FG_COMMON_ACCESSLOG_H
#define FG_COMMON_ACCESSLOG_H

/*
 * The access log: one JSON line per request, from its summary
 * (common/base/summary.h). Never a key's secret; prompts and completions only
 * when the log is opened with content. Each worker opens its own handle on
 * the same file. Lines are gathered in memory and written whole, several
 * at a time, by one write(2) (O_APPEND: lines from different workers never
 * interleave): when FG_ACCESSLOG_BUFFER_BYTES are pending, or when the
 * owner calls fg_accesslog_flush() (the worker does within
 * FG_ACCESSLOG_FLUSH_MS of a line), as nginx's access_log buffer= flush=.
 * Library code: no logging of its own.
 * docs/operations.md ("Access log") lists every field.
 */

#include <stdint.h>

#include "common/base/errors.h"
#include "common/base/summary.h"

/* Bytes of a string field written before it is cut (model names, ids). */
#define FG_ACCESSLOG_FIELD_MAX    512
/* Bytes of content (messages plus reply, as JSON) one line may carry;
 * beyond it the content is left out and the line says so. */
#define FG_ACCESSLOG_CONTENT_MAX  (1024 * 1024)

/* Pending bytes that trigger a write; how long a worker lets a line wait. */
#define FG_ACCESSLOG_BUFFER_BYTES (32 * 1024)
#define FG_ACCESSLOG_FLUSH_MS     10

typedef struct fg_accesslog_s fg_accesslog_t;

/*
 * Opens @path ("stderr" for standard error) for appending, creating it
 * (0640) if needed. Returns the handle (the caller closes it), or NULL with
 * @err set, naming the path and the reason. "off" is the caller's
 * business: do not open a log then. Opening never blocks (O_NONBLOCK: a
 * FIFO without a reader is an error, not a wait).
 */
fg_accesslog_t *fg_accesslog_open(const char *path, int with_content,
                                  fg_err_t *err);

/*
 * Adds the line for @s to the pending lines, writing them if they reach
 * FG_ACCESSLOG_BUFFER_BYTES. Never blocks on anything else and never fails
 * the caller: a write that fails or comes up short is counted
 * (fg_accesslog_failures, in lines) and its lines are lost.
 */
void fg_accesslog_write(fg_accesslog_t *log, const fg_request_summary_t *s);

/* Writes the pending lines now (one write(2)); a no-op when none. */
void fg_accesslog_flush(fg_accesslog_t *log);

/* Bytes of whole lines waiting for a flush. */
size_t fg_accesslog_pending(const fg_accesslog_t *log);

/*
 * Reopens the file by its path (logrotate moved it), after writing the
 * pending lines to the old one. FG_OK, or FG_ERR with @err set and the old
 * file still in use. A no-op for "stderr".
 */
int fg_accesslog_reopen(fg_accesslog_t *log, fg_err_t *err);

/* Lines lost to failed or short writes since the log was opened. */
uint64_t fg_accesslog_failures(const fg_accesslog_t *log);

/* Flushes and closes @log. Accepts NULL. */
void fg_accesslog_close(fg_accesslog_t *log);

/*
 * For the configuration check (-t, start, reload), without creating
 * anything: FG_OK for "off" and "stderr"; for a path, FG_OK when its folder
 * exists and the file (or, when it does not exist yet, the folder) is
 * writable; else FG_ERR with @err saying which.
 */
int fg_accesslog_check(const char *path, fg_err_t *err);

#endif
