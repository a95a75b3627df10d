/*
 * usagerepair.c: `fluxgate-admin store check|repair` for the usage
 * journal: every file read with the journal's own reader, and a damaged
 * one replaced by its valid prefix, the original set aside.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/base/alloc.h"
#include "common/base/durable.h"
#include "common/store/usagelog.h"
#include "common/store/usagerepair.h"

#define REPAIR_CHUNK 65536

/* Checks one file into @c (path and id set). FG_ERR: unreadable. */
static int
usagecheck_one(fg_usagecheck_t *c, fg_err_t *err)
{
    fg_usagelog_scan_t st;
    fg_err_t           why;
    struct stat        sb;

    if (stat(c->path, &sb) == 0) {
        c->bytes = (uint64_t) sb.st_size;
    }
    memset(&why, 0, sizeof(why));
    if (fg_usagelog_read(c->path, NULL, NULL, &st, &why) == FG_OK) {
        c->records = st.records;
        c->has_torn_tail = st.has_torn_tail;
        if (st.has_torn_tail) {
            snprintf(c->problem, sizeof(c->problem), "a torn last line at "
                     "offset %llu (%llu bytes): the next start cuts it off",
                     (unsigned long long) st.dropped_offset,
                     (unsigned long long) st.dropped_bytes);
        }
        return FG_OK;
    }
    if (!st.is_damaged) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "%s", why.msg);
    }
    c->records = st.records;
    c->is_damaged = 1;
    c->damaged_offset = st.damaged_offset;
    snprintf(c->problem, sizeof(c->problem), "%s", why.msg);
    return FG_OK;
}

int
fg_usagecheck_all(const char *path, fg_usagecheck_t **out, size_t *n,
                  fg_err_t *err)
{
    fg_usagelog_file_t *rolled = NULL;
    fg_usagecheck_t    *all;
    size_t              i, count = 0;
    struct stat         sb;

    *out = NULL;
    *n = 0;
    if (fg_usagelog_list_rolled(path, &rolled, &count, err) != FG_OK) {
        return FG_ERR;
    }
    all = fg_xcalloc(count + 1, sizeof(*all));
    for (i = 0; i < count; i++) {
        all[i].id = rolled[i].id;
        if (fg_usagelog_rolled_path(path, rolled[i].id, all[i].path,
                                    sizeof(all[i].path)) != FG_OK
            || usagecheck_one(&all[i], err) != FG_OK) {
            free(rolled);
            free(all);
            return FG_ERR;
        }
    }
    if (stat(path, &sb) == 0) {
        fg_usagecheck_t *c = &all[count];

        c->id = count > 0 ? rolled[count - 1].id + 1 : 1;
        c->is_current = 1;
        snprintf(c->path, sizeof(c->path), "%s", path);
        if (usagecheck_one(c, err) != FG_OK) {
            free(rolled);
            free(all);
            return FG_ERR;
        }
        count++;
    }
    free(rolled);
    *out = all;
    *n = count;
    return FG_OK;
}

/* Copies the first @len bytes of @from into the new file @to, fsync'd. */
static int
usagecheck_copy_prefix(const char *from, const char *to, uint64_t len,
                       fg_err_t *err)
{
    char    *buf = fg_xmalloc(REPAIR_CHUNK);
    int      in, out, rc = FG_ERR;
    uint64_t done = 0;

    in = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
               0600);
    if (in < 0 || out < 0) {
        fg_err_set(err, FG_E_INTERNAL, NULL, "open(\"%s\") failed: %s",
                   in < 0 ? from : to, strerror(errno));
        goto done;
    }
    while (done < len) {
        size_t  want = len - done < REPAIR_CHUNK ? (size_t) (len - done)
                                                 : REPAIR_CHUNK;
        ssize_t r = pread(in, buf, want, (off_t) done), w, off = 0;

        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            fg_err_set(err, FG_E_INTERNAL, NULL, "reading %s failed: %s",
                       from, r < 0 ? strerror(errno) : "end of file");
            goto done;
        }
        while (off < r) {
            w = write(out, buf + off, (size_t) (r - off));
            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w <= 0) {
                fg_err_set(err, FG_E_INTERNAL, NULL, "writing %s failed: "
                           "%s", to, w < 0 ? strerror(errno) : "no space");
                goto done;
            }
            off += w;
        }
        done += (uint64_t) r;
    }
    if (fsync(out) != 0) {
        fg_err_set(err, FG_E_INTERNAL, NULL, "fsync(\"%s\") failed: %s", to,
                   strerror(errno));
        goto done;
    }
    rc = FG_OK;

done:
    if (in >= 0) {
        close(in);
    }
    if (out >= 0) {
        close(out);
    }
    free(buf);
    return rc;
}

int
fg_usagecheck_repair(const fg_usagecheck_t *c, int64_t now_unix_s,
                     char *aside, size_t aside_size, fg_err_t *err)
{
    char      tmp[PATH_MAX + 16], stamp[32];
    time_t    t = (time_t) now_unix_s;
    struct tm tm;
    int       n;

    if (!c->is_damaged) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL, "%s is not damaged",
                          c->path);
    }
    if (gmtime_r(&t, &tm) == NULL
        || strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm) == 0) {
        snprintf(stamp, sizeof(stamp), "%lld", (long long) now_unix_s);
    }
    n = snprintf(aside, aside_size, "%s.damaged-%s", c->path, stamp);
    if (n <= 0 || (size_t) n >= aside_size
        || snprintf(tmp, sizeof(tmp), "%s.repair", c->path)
           >= (int) sizeof(tmp)) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "path too long: %s",
                          c->path);
    }
    if (access(aside, F_OK) == 0) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "%s exists already; "
                          "retry in a second", aside);
    }
    if (usagecheck_copy_prefix(c->path, tmp, c->damaged_offset, err)
        != FG_OK) {
        (void) unlink(tmp);
        return FG_ERR;
    }
    if (rename(c->path, aside) != 0) {
        fg_err_set(err, FG_E_INTERNAL, NULL, "rename(\"%s\", \"%s\") failed: "
                   "%s; nothing changed", c->path, aside, strerror(errno));
        (void) unlink(tmp);
        return FG_ERR;
    }
    if (rename(tmp, c->path) != 0) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "%s was set aside as %s "
                          "but rename(\"%s\") failed: %s; rename it to %s "
                          "by hand", c->path, aside, tmp, strerror(errno),
                          c->path);
    }
    return fg_fsync_dir_of(c->path, err);
}
