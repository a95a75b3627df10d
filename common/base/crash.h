#ifndef FG_COMMON_CRASH_H
#define FG_COMMON_CRASH_H

/*
 * The crash report (Redis's sigsegvHandler, in C11 and async-signal-safe).
 * A process that calls fg_crash_install() catches SIGSEGV, SIGBUS, SIGFPE
 * and SIGABRT on an alternate stack (so a stack overflow is caught too)
 * and writes to its log, with write(2) only (no stdio, no malloc, no
 * lock):
 *
 *   ... error worker#0[4242] crash: signal 11 (SIGSEGV), code 1, address
 *       0x0, pc 0x55d0c0ffee00
 *   ... error worker#0[4242] crash: backtrace follows
 *   ./fluxgate(fg_pipeline_run+0x2a)[0x55d0c0ffee00]      (one per frame)
 *   ... error worker#0[4242] crash: 2 requests in flight: req_..., req_...
 *   ... error worker#0[4242] crash: end of report, dying with signal 11
 *
 * then restores the default action and raises the signal again, so the
 * process dies exactly as it would have (the master sees the signal and
 * respawns a worker as usual; a core is dumped where the system says so).
 *
 * What a report holds is chosen so that nothing secret can be in it: the
 * signal, its code, the faulting address, the program counter, the frames'
 * symbols and what the process's context callback writes (a worker: the
 * gateway's own ids of its requests in flight; never a key, a header or a
 * body).
 *
 * Process-global state, set by each process's main: the master installs
 * before forking (the handlers, the alternate stack and the loaded unwinder
 * are inherited), and a child sets its own context.
 */

#include <stddef.h>
#include <stdint.h>

/* The longest line a report writes; longer text is cut. */
#define FG_CRASH_LINE_MAX 512

/* Frames of the backtrace, at most. */
#define FG_CRASH_FRAMES_MAX 64

/*
 * Writes a process's own part of a report (one or more lines, each with
 * fg_crash_line_*) on @fd. Runs inside a signal handler: it may only read
 * memory that is always valid and call async-signal-safe functions.
 */
typedef void (*fg_crash_context_pt)(int fd, void *arg);

/*
 * Installs the handlers and the alternate stack, and calls backtrace()
 * once so that libgcc's unwinder is loaded now, not inside a handler.
 * Idempotent. Not async-signal-safe.
 */
void fg_crash_install(void);

/*
 * Sets the callback that adds this process's context to a report (NULL:
 * none); @arg is borrowed and must stay valid while it is set.
 */
void fg_crash_set_context(fg_crash_context_pt fn, void *arg);

/* ---- async-signal-safe line writing, for reports and their callbacks -- */

typedef struct {
    char   buf[FG_CRASH_LINE_MAX];
    size_t len;      /* < FG_CRASH_LINE_MAX: room for the '\n' is kept */
} fg_crash_line_t;

/* Starts a line with the log's prefix: time, "error", role[pid], "crash: ". */
void fg_crash_line_start(fg_crash_line_t *line);

/* Append; what does not fit is cut. */
void fg_crash_line_str(fg_crash_line_t *line, const char *s);
void fg_crash_line_dec(fg_crash_line_t *line, int64_t v);
void fg_crash_line_hex(fg_crash_line_t *line, uint64_t v);   /* "0x1f" */

/* Ends the line with '\n' and writes it whole to @fd; the line is reset. */
void fg_crash_line_write(fg_crash_line_t *line, int fd);

/*
 * The formatting underneath, without printf. Each writes at most @size
 * bytes to @buf, no NUL, and returns how many it wrote (0 when @size is
 * too small for the whole number: a number is never cut).
 */
#define FG_CRASH_DEC_MAX 20   /* "-9223372036854775808" */
#define FG_CRASH_HEX_MAX 18   /* "0x" + 16 digits */
#define FG_CRASH_TIME_MAX 24  /* "2026-12-07T13:05:54.123Z" */

size_t fg_crash_fmt_dec(char *buf, size_t size, int64_t v);
size_t fg_crash_fmt_hex(char *buf, size_t size, uint64_t v);
/* @unix_ms as the log's UTC time, "YYYY-MM-DDTHH:MM:SS.mmmZ" (years 1970
 * to 9999). */
size_t fg_crash_fmt_time(char *buf, size_t size, int64_t unix_ms);

/* "SIGSEGV", "SIGBUS", "SIGFPE", "SIGABRT"; "signal" for any other. */
const char *fg_crash_signal_name(int sig);

#endif
