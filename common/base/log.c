/*
 * log.c: the process's log. Each line is formatted into one buffer and
 * written with a single write(2) on an O_APPEND descriptor, so lines from the
 * master and every worker sharing a file never interleave.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/base/log.h"

fg_log_level_t fg_log_level_current = FG_LOG_NOTICE;

static int  log_fd = STDERR_FILENO;
static char log_path[512];
static char log_role[32] = "master";

static const char *log_level_names[] = {
    "error", "warn", "notice", "info", "debug"
};

static int
log_open_path(const char *path)
{
    int fd;

    if (path == NULL || path[0] == '\0' || strcmp(path, "stderr") == 0) {
        return STDERR_FILENO;
    }
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    return fd;
}

int
fg_log_open(const char *path, fg_log_level_t level)
{
    int fd = log_open_path(path);

    if (fd < 0) {
        return -1;
    }
    if (log_fd != STDERR_FILENO && log_fd != fd) {
        close(log_fd);
    }
    log_fd = fd;
    snprintf(log_path, sizeof(log_path), "%s",
             fd == STDERR_FILENO ? "" : path);
    fg_log_level_current = level;
    return 0;
}

int
fg_log_reopen(void)
{
    int fd;

    if (log_path[0] == '\0') {
        return 0;
    }
    fd = log_open_path(log_path);
    if (fd < 0) {
        return -1;
    }
    close(log_fd);
    log_fd = fd;
    return 0;
}

void
fg_log_set_role(const char *role)
{
    snprintf(log_role, sizeof(log_role), "%s", role);
}

int
fg_log_fd(void)
{
    return log_fd;
}

const char *
fg_log_role(void)
{
    return log_role;
}

int
fg_log_level_parse(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(log_level_names) / sizeof(log_level_names[0]);
         i++) {
        if (strcmp(name, log_level_names[i]) == 0) {
            return (int) i;
        }
    }
    return -1;
}

void
fg_log_write(fg_log_level_t level, int err, const char *fmt, ...)
{
    char            line[2048];
    struct timeval  tv;
    struct tm       tm;
    va_list         ap;
    size_t          n;
    int             saved_errno = errno;
    ssize_t         w;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t) snprintf(line + n, sizeof(line) - n, ".%03dZ %s %s[%d] ",
                           (int) (tv.tv_usec / 1000), log_level_names[level],
                           log_role, (int) getpid());
    va_start(ap, fmt);
    n += (size_t) vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);
    if (n > sizeof(line) - 64) {
        n = sizeof(line) - 64;
    }
    if (err != 0) {
        n += (size_t) snprintf(line + n, sizeof(line) - n, " (%d: %s)", err,
                               strerror(err));
    }
    line[n++] = '\n';
    w = write(log_fd, line, n);
    (void) w;
    errno = saved_errno;
}
