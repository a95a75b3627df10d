/*
 * durable.c: fsync of a file's folder.
 */

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/base/durable.h"

int
fg_fsync_dir_of(const char *path, fg_err_t *err)
{
    char  copy[PATH_MAX];
    char *dir;
    int   fd, rc;

    if (snprintf(copy, sizeof(copy), "%s", path) >= (int) sizeof(copy)) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "path too long: %s",
                          path);
    }
    dir = dirname(copy);
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "open(\"%s\") failed: %s", dir, strerror(errno));
    }
    rc = fsync(fd);
    if (rc != 0) {
        fg_err_set(err, FG_E_INTERNAL, NULL, "fsync(\"%s\") failed: %s",
                   dir, strerror(errno));
    }
    close(fd);
    return rc == 0 ? FG_OK : FG_ERR;
}
