#ifndef FG_COMMON_LOG_H
#define FG_COMMON_LOG_H

/*
 * One line per event: time, level, role, pid, message. The level test is in
 * the macro, so a filtered line costs no formatting. @err is an errno value
 * or 0; when non-zero the logger appends " (code: strerror)". The logger
 * saves and restores errno.
 *
 * The log is process-global state, set once at start-up by the process's
 * main (master, worker or syncer role). Library code in common/ never logs;
 * only master/ and worker/ call this. Never log an API key, an
 * Authorization header, a prompt or a completion.
 */

#include <stdarg.h>

typedef enum {
    FG_LOG_ERROR = 0,
    FG_LOG_WARN,
    FG_LOG_NOTICE,
    FG_LOG_INFO,
    FG_LOG_DEBUG
} fg_log_level_t;

extern fg_log_level_t fg_log_level_current;

#define fg_log(level, err, ...)                                             \
    do {                                                                    \
        if ((level) <= fg_log_level_current) {                              \
            fg_log_write((level), (err), __VA_ARGS__);                      \
        }                                                                   \
    } while (0)

/*
 * Opens @path for appending (NULL or "" or "stderr" means stderr) and sets
 * the level. Returns 0, or -1 with errno set when the file cannot be opened
 * (the previous destination stays in use). Not async-signal-safe.
 */
int fg_log_open(const char *path, fg_log_level_t level);

/* Reopens the current file (SIGUSR1, logrotate). Returns 0 or -1/errno. */
int fg_log_reopen(void);

/* Sets the role shown on each line ("master", "worker#2", "syncer"). */
void fg_log_set_role(const char *role);

/*
 * The descriptor lines go to and the role they carry, for the crash
 * report (common/base/crash.h): plain reads, async-signal-safe.
 */
int fg_log_fd(void);
const char *fg_log_role(void);

/* Parses "error", "warn", "notice", "info", "debug". Returns -1 if unknown. */
int fg_log_level_parse(const char *name);

void fg_log_write(fg_log_level_t level, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
