#ifndef FG_COMMON_DURABLE_H
#define FG_COMMON_DURABLE_H

/*
 * What makes a file's creation or rename durable: an fsync of the folder
 * that holds it (the file's own fsync does not cover its directory entry).
 * Library code: errors through fg_err_t. Blocks on disk I/O.
 */

#include "common/base/errors.h"

/* fsync()s the folder of @path. FG_OK, or FG_ERR with @err naming the
 * folder and the failed call. */
int fg_fsync_dir_of(const char *path, fg_err_t *err);

#endif
