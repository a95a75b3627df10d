/*
 * test_crash.c: the crash report's formatting without printf
 * (common/base/crash.h): decimal and hex at their limits and in buffers
 * too small, the log's UTC time against gmtime_r over many instants, and
 * lines that are cut, never overrun, and written whole.
 */

#include "common/base/crash.h"

#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/base/log.h"
#include "tests/unit/fg_test.h"

/* fg_crash_fmt_dec(@v) into a buffer of @size, as a C string. */
static const char *
dec(int64_t v, size_t size)
{
    static char buf[64];
    size_t      n = fg_crash_fmt_dec(buf, size, v);

    buf[n] = '\0';
    return buf;
}

static const char *
hex(uint64_t v, size_t size)
{
    static char buf[64];
    size_t      n = fg_crash_fmt_hex(buf, size, v);

    buf[n] = '\0';
    return buf;
}

static void
dec_writes_zero_negatives_and_both_limits(void)
{
    expect_str_eq(dec(0, 64), "0");
    expect_str_eq(dec(7, 64), "7");
    expect_str_eq(dec(-1, 64), "-1");
    expect_str_eq(dec(1234567890, 64), "1234567890");
    expect_str_eq(dec(INT64_MAX, 64), "9223372036854775807");
    expect_str_eq(dec(INT64_MIN, FG_CRASH_DEC_MAX), "-9223372036854775808");
}

static void
dec_writes_nothing_when_the_number_does_not_fit(void)
{
    char buf[4] = { 'x', 'x', 'x', 'x' };

    expect_int_eq(fg_crash_fmt_dec(buf, 3, 1234), 0);
    expect_int_eq(fg_crash_fmt_dec(buf, 2, -12), 0);
    expect_int_eq(fg_crash_fmt_dec(buf, 0, 0), 0);
    expect_true(memcmp(buf, "xxxx", 4) == 0);
    expect_str_eq(dec(-12, 3), "-12");
}

static void
hex_writes_lowercase_with_0x_and_no_leading_zeros(void)
{
    expect_str_eq(hex(0, 64), "0x0");
    expect_str_eq(hex(0xf, 64), "0xf");
    expect_str_eq(hex(0x10, 64), "0x10");
    expect_str_eq(hex(0x7f1b4949aef3ULL, 64), "0x7f1b4949aef3");
    expect_str_eq(hex(UINT64_MAX, FG_CRASH_HEX_MAX), "0xffffffffffffffff");
    expect_str_eq(hex(0x8000000000000000ULL, 64), "0x8000000000000000");
    expect_int_eq(fg_crash_fmt_hex((char[8]) { 0 }, 4, 0x1234), 0);
    expect_int_eq(fg_crash_fmt_hex((char[8]) { 0 }, 2, 0), 0);
}

/* fg_crash_fmt_time(@ms) and gmtime_r + strftime agree. */
static int
time_agrees(int64_t ms)
{
    char      ours[FG_CRASH_TIME_MAX + 1], theirs[64];
    time_t    t = (time_t) (ms / 1000);
    struct tm tm;
    size_t    n;

    n = fg_crash_fmt_time(ours, sizeof(ours), ms);
    ours[n] = '\0';
    gmtime_r(&t, &tm);
    n = strftime(theirs, sizeof(theirs), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(theirs + n, sizeof(theirs) - n, ".%03dZ", (int) (ms % 1000));
    if (strcmp(ours, theirs) != 0) {
        FG_TEST_FAIL("%lld ms: wrote \"%s\", gmtime_r says \"%s\"",
                     (long long) ms, ours, theirs);
        return 0;
    }
    return 1;
}

static void
time_matches_gmtime_on_edges_and_a_million_instants(void)
{
    static const int64_t edges[] = {
        0, 999, 1000, 86399999, 86400000,
        951782400000,      /* 2000-02-29 */
        951868800000,      /* 2000-03-01 */
        4107542399999,     /* 2100-02-28T23:59:59.999 */
        4107542400000,     /* 2100-03-01: no leap day in 2100 */
        1796735154123,     /* 2026-12-07 */
        INT64_C(253402300799999)   /* 9999-12-31T23:59:59.999 */
    };
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    size_t   i;

    for (i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        time_agrees(edges[i]);
    }
    for (i = 0; i < 1000000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (!time_agrees((int64_t) (x % UINT64_C(253402300800000)))) {
            break;
        }
    }
}

static void
time_refuses_what_it_cannot_write(void)
{
    char buf[FG_CRASH_TIME_MAX];

    expect_int_eq(fg_crash_fmt_time(buf, sizeof(buf) - 1, 0), 0);
    expect_int_eq(fg_crash_fmt_time(buf, sizeof(buf), -1), 0);
    expect_int_eq(fg_crash_fmt_time(buf, sizeof(buf),
                                    INT64_C(253402300800000)), 0);
}

static void
signal_names_are_the_four_caught(void)
{
    expect_str_eq(fg_crash_signal_name(SIGSEGV), "SIGSEGV");
    expect_str_eq(fg_crash_signal_name(SIGBUS), "SIGBUS");
    expect_str_eq(fg_crash_signal_name(SIGFPE), "SIGFPE");
    expect_str_eq(fg_crash_signal_name(SIGABRT), "SIGABRT");
    expect_str_eq(fg_crash_signal_name(SIGTERM), "signal");
}

/* What a line writes on a pipe, as a C string. */
static const char *
written(fg_crash_line_t *line)
{
    static char buf[2 * FG_CRASH_LINE_MAX];
    int         fds[2];
    ssize_t     n;

    if (pipe(fds) != 0) {
        return "";
    }
    fg_crash_line_write(line, fds[1]);
    close(fds[1]);
    n = read(fds[0], buf, sizeof(buf) - 1);
    close(fds[0]);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void
a_line_starts_with_the_logs_prefix_and_ends_with_one_newline(void)
{
    fg_crash_line_t line;
    char            want[64];
    const char     *out;

    fg_log_set_role("worker#3");
    fg_crash_line_start(&line);
    fg_crash_line_str(&line, "signal ");
    fg_crash_line_dec(&line, 11);
    fg_crash_line_str(&line, " at ");
    fg_crash_line_hex(&line, 0xdead);
    out = written(&line);
    snprintf(want, sizeof(want), " error worker#3[%d] crash: signal 11 at "
             "0xdead\n", (int) getpid());
    expect_int_eq(strlen(out), FG_CRASH_TIME_MAX + strlen(want));
    expect_true(out[4] == '-' && out[10] == 'T' && out[23] == 'Z');
    expect_str_eq(out + FG_CRASH_TIME_MAX, want);
    expect_int_eq(line.len, 0);
}

static void
a_long_line_is_cut_and_never_overruns(void)
{
    fg_crash_line_t line;
    char            chunk[100];
    const char     *out;
    int             i;

    memset(chunk, 'a', sizeof(chunk) - 1);
    chunk[sizeof(chunk) - 1] = '\0';
    line.len = 0;
    for (i = 0; i < 20; i++) {
        fg_crash_line_str(&line, chunk);
        fg_crash_line_dec(&line, INT64_MIN);
        fg_crash_line_hex(&line, UINT64_MAX);
        expect_true(line.len <= FG_CRASH_LINE_MAX - 1);
    }
    out = written(&line);
    expect_int_eq(strlen(out), FG_CRASH_LINE_MAX);
    expect_true(out[FG_CRASH_LINE_MAX - 1] == '\n');
}

/* ---- real crashes, in a child whose log is a pipe ------------------- */

static volatile int crash_sink;
static volatile uintptr_t crash_bad_address = 16;
static volatile int crash_depth_max = 1 << 30;   /* far past any stack */

/* Recurses until the stack runs out: the handler must still run. */
static int
overflow(int depth)
{
    volatile char pad[1024];

    pad[0] = (char) depth;
    crash_sink = pad[0];
    return depth < crash_depth_max ? overflow(depth + 1) + pad[0] : 0;
}

/* A read near NULL (not at it: UBSan would catch a NULL read first). */
static void
null_read(void)
{
    volatile int *p = (volatile int *) crash_bad_address;

    crash_sink = *p;
}

/*
 * Runs @fn in a child that installed the handlers, with stderr (the log)
 * on a pipe; returns what it wrote and its wait status in *@status.
 */
static const char *
crash_child(void (*fn)(void), int *status)
{
    static char buf[16384];
    size_t      len = 0;
    ssize_t     n;
    int         fds[2];
    pid_t       pid;

    *status = 0;
    if (pipe(fds) != 0) {
        return "";
    }
    pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        fg_log_set_role("worker#7");
        fg_crash_install();
        fn();
        _exit(0);
    }
    close(fds[1]);
    while (len < sizeof(buf) - 1
           && (n = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0) {
        len += (size_t) n;
    }
    buf[len] = '\0';
    close(fds[0]);
    waitpid(pid, status, 0);
    return buf;
}

static void
stack_overflow_run(void)
{
    crash_sink = overflow(0);
}

static void
a_stack_overflow_is_reported_on_the_alternate_stack_and_kills(void)
{
    int         status;
    const char *out = crash_child(stack_overflow_run, &status);

    expect_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
    expect_true(strstr(out, "crash: signal 11 (SIGSEGV), code 1, "
                            "address 0x") != NULL);
    expect_true(strstr(out, "crash: backtrace follows\n") != NULL);
    expect_true(strstr(out, "crash: end of report, dying with signal 11\n")
                != NULL);
}

static void
a_read_near_null_reports_its_address_and_kills(void)
{
    int         status;
    const char *out = crash_child(null_read, &status);

    expect_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
    expect_true(strstr(out, " error worker#7[") != NULL);
    expect_true(strstr(out, "crash: signal 11 (SIGSEGV), code 1, "
                            "address 0x10, pc 0x") != NULL);
    expect_true(strstr(out, "end of report, dying with signal 11") != NULL);
}

static void
abort_is_reported_and_still_aborts(void)
{
    int         status;
    const char *out = crash_child(abort, &status);

    expect_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    expect_true(strstr(out, "crash: signal 6 (SIGABRT), code -6, sent by "
                            "pid ") != NULL);
    expect_true(strstr(out, "end of report, dying with signal 6") != NULL);
}

FG_TEST_MAIN("crash",
             FG_TEST_CASE(dec_writes_zero_negatives_and_both_limits),
             FG_TEST_CASE(dec_writes_nothing_when_the_number_does_not_fit),
             FG_TEST_CASE(hex_writes_lowercase_with_0x_and_no_leading_zeros),
             FG_TEST_CASE(time_matches_gmtime_on_edges_and_a_million_instants),
             FG_TEST_CASE(time_refuses_what_it_cannot_write),
             FG_TEST_CASE(signal_names_are_the_four_caught),
             FG_TEST_CASE(a_line_starts_with_the_logs_prefix_and_ends_with_one_newline),
             FG_TEST_CASE(a_long_line_is_cut_and_never_overruns),
             FG_TEST_CASE(a_stack_overflow_is_reported_on_the_alternate_stack_and_kills),
             FG_TEST_CASE(a_read_near_null_reports_its_address_and_kills),
             FG_TEST_CASE(abort_is_reported_and_still_aborts))
