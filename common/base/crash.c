/*
 * crash.c: the crash report of common/base/crash.h.
 *
 * Everything the handler calls is async-signal-safe or a plain read:
 * clock_gettime, getpid, write, sigaction, sigprocmask, raise, and
 * backtrace()/backtrace_symbols_fd(), which glibc makes safe once libgcc
 * is loaded (fg_crash_install() loads it; backtrace_symbols_fd() writes
 * without malloc). Numbers are formatted here, without printf.
 *
 * Ordering of a crash:
 *   1) the signal runs crash_handler() on the alternate stack, with the
 *      four crash signals blocked, so a second fault inside the handler
 *      is not caught again: the kernel kills the process with it (the
 *      report is cut short, the death is the same);
 *   2) the report is written line by line, each line one write(2) on the
 *      log's O_APPEND descriptor, so it never interleaves with another
 *      process's lines;
 *   3) the default action is restored, the signal unblocked and raised:
 *      the process dies of it, as it would have without us.
 */

#include <execinfo.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "common/base/crash.h"
#include "common/base/log.h"

/* Enough for the handler, backtrace() and backtrace_symbols_fd(). */
#define CRASH_STACK_BYTES (64 * 1024)

static const int crash_signals[] = { SIGSEGV, SIGBUS, SIGFPE, SIGABRT };

static char                 crash_stack[CRASH_STACK_BYTES];
static int                  crash_installed;
static fg_crash_context_pt  crash_context;
static void                *crash_context_arg;
static volatile sig_atomic_t crash_in_progress;

static void crash_handler(int sig, siginfo_t *si, void *uctx);

/* ---- formatting ------------------------------------------------------- */

size_t
fg_crash_fmt_dec(char *buf, size_t size, int64_t v)
{
    char     digits[FG_CRASH_DEC_MAX];
    size_t   n = 0, len, i;
    uint64_t u = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;

    do {
        digits[n++] = (char) ('0' + u % 10);
        u /= 10;
    } while (u != 0);
    len = n + (v < 0);
    if (len > size) {
        return 0;
    }
    i = 0;
    if (v < 0) {
        buf[i++] = '-';
    }
    while (n > 0) {
        buf[i++] = digits[--n];
    }
    return len;
}

size_t
fg_crash_fmt_hex(char *buf, size_t size, uint64_t v)
{
    static const char hex[] = "0123456789abcdef";
    size_t            n = 1, i;

    while (n < 16 && (v >> (4 * n)) != 0) {
        n++;
    }
    if (n + 2 > size) {
        return 0;
    }
    buf[0] = '0';
    buf[1] = 'x';
    for (i = 0; i < n; i++) {
        buf[2 + i] = hex[(v >> (4 * (n - 1 - i))) & 0xf];
    }
    return n + 2;
}

/* @v as exactly @width digits, zero-padded (v < 10^width). */
static void
crash_fmt_fixed(char *buf, unsigned v, size_t width)
{
    while (width > 0) {
        buf[--width] = (char) ('0' + v % 10);
        v /= 10;
    }
}

size_t
fg_crash_fmt_time(char *buf, size_t size, int64_t unix_ms)
{
    int64_t  days, secs, z, era, doe, yoe, y, doy, mp;
    unsigned day, month, ms;

    if (size < FG_CRASH_TIME_MAX || unix_ms < 0
        || unix_ms >= INT64_C(253402300800000)) {   /* 10000-01-01 */
        return 0;
    }
    ms = (unsigned) (unix_ms % 1000);
    secs = unix_ms / 1000;
    days = secs / 86400;
    secs %= 86400;
    /* Civil from days (H. Hinnant's algorithm), days since 1970-01-01. */
    z = days + 719468;
    era = z / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    day = (unsigned) (doy - (153 * mp + 2) / 5 + 1);
    month = (unsigned) (mp < 10 ? mp + 3 : mp - 9);
    y += month <= 2;

    crash_fmt_fixed(buf, (unsigned) y, 4);
    buf[4] = '-';
    crash_fmt_fixed(buf + 5, month, 2);
    buf[7] = '-';
    crash_fmt_fixed(buf + 8, day, 2);
    buf[10] = 'T';
    crash_fmt_fixed(buf + 11, (unsigned) (secs / 3600), 2);
    buf[13] = ':';
    crash_fmt_fixed(buf + 14, (unsigned) (secs / 60 % 60), 2);
    buf[16] = ':';
    crash_fmt_fixed(buf + 17, (unsigned) (secs % 60), 2);
    buf[19] = '.';
    crash_fmt_fixed(buf + 20, ms, 3);
    buf[23] = 'Z';
    return FG_CRASH_TIME_MAX;
}

const char *
fg_crash_signal_name(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS:  return "SIGBUS";
    case SIGFPE:  return "SIGFPE";
    case SIGABRT: return "SIGABRT";
    default:      return "signal";
    }
}

/* ---- lines ------------------------------------------------------------ */

/* Room left in @line, keeping one byte for the '\n'. */
static size_t
crash_line_room(const fg_crash_line_t *line)
{
    return FG_CRASH_LINE_MAX - 1 - line->len;
}

void
fg_crash_line_str(fg_crash_line_t *line, const char *s)
{
    while (*s != '\0' && crash_line_room(line) > 0) {
        line->buf[line->len++] = *s++;
    }
}

void
fg_crash_line_dec(fg_crash_line_t *line, int64_t v)
{
    line->len += fg_crash_fmt_dec(line->buf + line->len,
                                  crash_line_room(line), v);
}

void
fg_crash_line_hex(fg_crash_line_t *line, uint64_t v)
{
    line->len += fg_crash_fmt_hex(line->buf + line->len,
                                  crash_line_room(line), v);
}

void
fg_crash_line_start(fg_crash_line_t *line)
{
    struct timespec ts;
    const char     *role = fg_log_role();
    size_t          i;

    line->len = 0;
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0) {
        line->len += fg_crash_fmt_time(line->buf, crash_line_room(line),
                                       (int64_t) ts.tv_sec * 1000
                                       + ts.tv_nsec / 1000000);
    }
    fg_crash_line_str(line, " error ");
    /* The role is a short array; never read past it. */
    for (i = 0; i < 32 && role[i] != '\0' && crash_line_room(line) > 0; i++) {
        line->buf[line->len++] = role[i];
    }
    fg_crash_line_str(line, "[");
    fg_crash_line_dec(line, (int64_t) getpid());
    fg_crash_line_str(line, "] crash: ");
}

void
fg_crash_line_write(fg_crash_line_t *line, int fd)
{
    size_t  off = 0;
    ssize_t n;

    line->buf[line->len++] = '\n';
    while (off < line->len) {
        n = write(fd, line->buf + off, line->len - off);
        if (n <= 0) {
            break;   /* EINTR is impossible: every signal that could
                      * interrupt is blocked or fatal; give up otherwise */
        }
        off += (size_t) n;
    }
    line->len = 0;
}

/* ---- the handler ------------------------------------------------------ */

/* The interrupted program counter, where the platform tells it; 0 if not. */
static uint64_t
crash_pc(void *uctx)
{
#if defined(__linux__) && defined(__x86_64__)
    return (uint64_t) ((ucontext_t *) uctx)->uc_mcontext.gregs[REG_RIP];
#elif defined(__linux__) && defined(__aarch64__)
    return (uint64_t) ((ucontext_t *) uctx)->uc_mcontext.pc;
#else
    (void) uctx;
    return 0;
#endif
}

static void
crash_report(int sig, const siginfo_t *si, void *uctx)
{
    fg_crash_line_t     line;
    void               *frames[FG_CRASH_FRAMES_MAX];
    int                 fd = fg_log_fd(), n;
    fg_crash_context_pt context = crash_context;

    fg_crash_line_start(&line);
    fg_crash_line_str(&line, "signal ");
    fg_crash_line_dec(&line, sig);
    fg_crash_line_str(&line, " (");
    fg_crash_line_str(&line, fg_crash_signal_name(sig));
    fg_crash_line_str(&line, "), code ");
    fg_crash_line_dec(&line, si->si_code);
    if (si->si_code <= 0) {
        /* Sent (kill, tgkill, sigqueue, abort's raise): by whom. */
        fg_crash_line_str(&line, ", sent by pid ");
        fg_crash_line_dec(&line, (int64_t) si->si_pid);
    } else {
        fg_crash_line_str(&line, ", address ");
        fg_crash_line_hex(&line, (uint64_t) (uintptr_t) si->si_addr);
    }
    fg_crash_line_str(&line, ", pc ");
    fg_crash_line_hex(&line, crash_pc(uctx));
    fg_crash_line_write(&line, fd);

    fg_crash_line_start(&line);
    fg_crash_line_str(&line, "backtrace follows");
    fg_crash_line_write(&line, fd);
    n = backtrace(frames, FG_CRASH_FRAMES_MAX);
    backtrace_symbols_fd(frames, n, fd);

    if (context != NULL) {
        context(fd, crash_context_arg);
    }

    fg_crash_line_start(&line);
    fg_crash_line_str(&line, "end of report, dying with signal ");
    fg_crash_line_dec(&line, sig);
    fg_crash_line_write(&line, fd);
}

static void
crash_handler(int sig, siginfo_t *si, void *uctx)
{
    struct sigaction dfl;
    sigset_t         set;

    /* One report per process: another thread's crash, or this one's
     * again, just dies. */
    if (!crash_in_progress) {
        crash_in_progress = 1;
        crash_report(sig, si, uctx);
    }
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    /* A fault returns here only if the raise was somehow not fatal:
     * returning re-runs the faulting instruction under SIG_DFL. */
}

void
fg_crash_install(void)
{
    struct sigaction sa;
    stack_t          ss;
    void            *warm[1];
    size_t           i;

    if (crash_installed) {
        return;
    }
    crash_installed = 1;
    (void) backtrace(warm, 1);   /* loads libgcc_s now, not in a handler */

    memset(&ss, 0, sizeof(ss));
    ss.ss_sp = crash_stack;
    ss.ss_size = sizeof(crash_stack);
    (void) sigaltstack(&ss, NULL);

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = crash_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (i = 0; i < sizeof(crash_signals) / sizeof(crash_signals[0]); i++) {
        sigaddset(&sa.sa_mask, crash_signals[i]);
    }
    for (i = 0; i < sizeof(crash_signals) / sizeof(crash_signals[0]); i++) {
        (void) sigaction(crash_signals[i], &sa, NULL);
    }
}

void
fg_crash_set_context(fg_crash_context_pt fn, void *arg)
{
    crash_context = NULL;
    atomic_signal_fence(memory_order_seq_cst);
    crash_context_arg = arg;
    atomic_signal_fence(memory_order_seq_cst);
    crash_context = fn;
}
