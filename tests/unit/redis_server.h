#ifndef FG_TESTS_UNIT_REDIS_SERVER_H
#define FG_TESTS_UNIT_REDIS_SERVER_H

/*
 * A private redis-server for the unit tests that need a real one
 * (test_redis.c, test_cluster_scripts.c): on a unix socket in a fresh
 * mkdtemp folder (no TCP port: --port 0), appendonly with appendfsync
 * always, plus the arguments a test adds; ended by PID (SIGCONT, the
 * signal, SIGKILL after a bound, waitpid), and killed with the test
 * process should it crash (PR_SET_PDEATHSIG). redis-server is a
 * dependency (`make deps` installs Debian's): without it the start
 * records a failure saying so.
 *
 * Static functions, for one test file each, as router_world.h.
 */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "common/base/clock.h"
#include "tests/unit/fg_test.h"

#define REDIS_SERVER_START_MS 5000     /* a server's start, at most */
#define REDIS_SERVER_STOP_MS  2000     /* the signal, then SIGKILL */


typedef struct {
    pid_t pid;
    char  dir[64];
    char  sock[100];      /* fits sun_path */
    char  log[128];
    char  url[160];
    const char *extra[8];     /* more arguments, NULL-terminated */
} redis_server_t;

static char redis_server_found[512];

/* redis-server as `command -v` finds it; "" when it is missing. */
static const char *
redis_server_binary(void)
{
    const char *path = getenv("PATH");
    char        dir[400];

    if (redis_server_found[0] != '\0') {
        return redis_server_found;
    }
    while (path != NULL && *path != '\0') {
        size_t n = strcspn(path, ":");

        if (n > 0 && n < sizeof(dir)) {
            memcpy(dir, path, n);
            dir[n] = '\0';
            snprintf(redis_server_found, sizeof(redis_server_found),
                     "%s/redis-server", dir);
            if (access(redis_server_found, X_OK) == 0) {
                return redis_server_found;
            }
        }
        path += n;
        if (*path == ':') {
            path++;
        }
    }
    redis_server_found[0] = '\0';
    return "";
}

/* Whether something accepts on @path now. */
static int
redis_server_answers(const char sock[100])
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int                fd, rc;

    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        return 0;
    }
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
    rc = connect(fd, (struct sockaddr *) &sa, sizeof(sa));
    close(fd);
    return rc == 0;
}

/* Starts (or starts again, in the same folder) @s's server. */
static int
redis_server_run(redis_server_t *s)
{
    const char *bin = redis_server_binary();
    const char *argv[40];
    int         argc = 0, i;
    int64_t     deadline;
    pid_t       parent = getpid();

    if (bin[0] == '\0') {
        FG_TEST_FAIL("redis-server is not in PATH: the tests need it "
                     "(`make deps` installs Debian's redis-server)");
        return -1;
    }
    argv[argc++] = bin;
    argv[argc++] = "--port";
    argv[argc++] = "0";
    argv[argc++] = "--unixsocket";
    argv[argc++] = s->sock;
    argv[argc++] = "--unixsocketperm";
    argv[argc++] = "700";
    argv[argc++] = "--dir";
    argv[argc++] = s->dir;
    argv[argc++] = "--logfile";
    argv[argc++] = s->log;
    argv[argc++] = "--daemonize";
    argv[argc++] = "no";
    argv[argc++] = "--save";
    argv[argc++] = "";
    argv[argc++] = "--appendonly";
    argv[argc++] = "yes";
    argv[argc++] = "--appendfsync";
    argv[argc++] = "always";
    for (i = 0; s->extra[i] != NULL; i++) {
        argv[argc++] = s->extra[i];
    }
    argv[argc] = NULL;
    fflush(NULL);
    s->pid = fork();
    if (s->pid < 0) {
        FG_TEST_FAIL("fork: %s", strerror(errno));
        return -1;
    }
    if (s->pid == 0) {
        int null = open("/dev/null", O_RDWR);

        /* Dies with the test, however the test ends. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) {
            _exit(127);
        }
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
        }
        execv(bin, (char *const *) argv);
        _exit(127);
    }
    deadline = fg_mono_ms() + REDIS_SERVER_START_MS;
    while (fg_mono_ms() < deadline) {
        int status;

        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = 0;
            FG_TEST_FAIL("redis-server exited at start (status %d); see %s",
                         status, s->log);
            return -1;
        }
        if (redis_server_answers(s->sock)) {
            return 0;
        }
        usleep(10 * 1000);
    }
    FG_TEST_FAIL("redis-server did not listen on %s within %d ms", s->sock,
                 REDIS_SERVER_START_MS);
    return -1;
}

/* A server in a new folder with @extra arguments (NULL-terminated list of
 * up to 7; may be NULL). Returns 0, or -1 after recording a failure. */
static int
redis_server_start(redis_server_t *s, const char *const *extra)
{
    int i;

    memset(s, 0, sizeof(*s));
    for (i = 0; extra != NULL && extra[i] != NULL && i < 7; i++) {
        s->extra[i] = extra[i];
    }
    snprintf(s->dir, sizeof(s->dir), "/tmp/fg-test-redis-XXXXXX");
    if (mkdtemp(s->dir) == NULL) {
        FG_TEST_FAIL("mkdtemp: %s", strerror(errno));
        s->dir[0] = '\0';
        return -1;
    }
    snprintf(s->sock, sizeof(s->sock), "%s/redis.sock", s->dir);
    snprintf(s->log, sizeof(s->log), "%s/redis.log", s->dir);
    snprintf(s->url, sizeof(s->url), "%s", s->sock);
    return redis_server_run(s);
}

/* Ends the server by PID: SIGTERM, SIGKILL after two seconds. */
static void
redis_server_kill(redis_server_t *s, int sig)
{
    int64_t deadline = fg_mono_ms() + REDIS_SERVER_STOP_MS;
    int     status;

    if (s->pid <= 0) {
        return;
    }
    kill(s->pid, sig);
    kill(s->pid, SIGCONT);
    while (fg_mono_ms() < deadline) {
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = 0;
            return;
        }
        usleep(5 * 1000);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &status, 0);
    s->pid = 0;
}

static int
redis_server_remove(const char *path, const struct stat *st, int flag,
             struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    remove(path);
    return 0;
}

static void
redis_server_stop(redis_server_t *s)
{
    redis_server_kill(s, SIGTERM);
    if (s->dir[0] != '\0') {
        nftw(s->dir, redis_server_remove, 8, FTW_DEPTH | FTW_PHYS);
        s->dir[0] = '\0';
    }
}

#endif
