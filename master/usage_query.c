/*
 * usage_query.c: GET /admin/v1/usage in a child process per query.
 *
 * The child (forked from the syncer) closes every descriptor but its end
 * of the pipe, sums the journal and writes one frame: 'O' and the JSON
 * reply, or 'E' and "<error code>\n<param>\n<message>". The parent reads
 * the pipe from its event loop into a buffer bounded by
 * FG_USAGE_QUERY_REPLY_MAX, and at end of file reaps the child and
 * replies. Nothing in the parent blocks: the read end is non-blocking,
 * and the child is reaped once it closed the pipe (it is exiting), or
 * after a SIGKILL.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "common/base/alloc.h"
#include "common/base/log.h"
#include "master/usage_query.h"

typedef struct usage_query_s usage_query_t;

struct usage_query_s {
    fg_usage_queries_t *set;
    fg_httpconn_t      *conn;           /* NULL once the client left */
    pid_t               pid;            /* 0: slot free */
    int                 fd;             /* the pipe's read end */
    struct event       *read_ev;
    struct event       *deadline_ev;
    char               *buf;
    size_t              len, cap;
};

struct fg_usage_queries_s {
    struct event_base *base;
    const char        *usage_path;
    int64_t            deadline_ms;
    usage_query_t      slots[FG_USAGE_QUERY_MAX];
};

static void query_read_cb(evutil_socket_t fd, short what, void *arg);
static void query_deadline_cb(evutil_socket_t fd, short what, void *arg);

/* Writes all of @len bytes at @p to the blocking @fd. */
static int
query_write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        p += w;
        len -= (size_t) w;
    }
    return 0;
}

/* The child: never returns. */
static void __attribute__((noreturn))
query_child(const char *usage_path, const fg_usagelog_filter_t *filter,
            int out, pid_t parent)
{
    static const int signals[] = { SIGTERM, SIGINT, SIGQUIT, SIGUSR1,
                                   SIGHUP, SIGPIPE };
    fg_err_t  err;
    json_t   *reply;
    char     *text, head[FG_ERR_PARAM_MAX + 32];
    size_t    i;
    int       rc;

    /* The syncer's signal handlers would wake its loop, not ours. */
    for (i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
        signal(signals[i], SIG_DFL);
    }
    (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
        _exit(1);
    }
    /* Only the pipe: the admin connections, the listeners and the store
     * stay the syncer's alone. */
    if (out != 3) {
        if (dup2(out, 3) < 0) {
            _exit(1);
        }
        out = 3;
    }
    (void) fcntl(out, F_SETFD, 0);
    (void) fcntl(out, F_SETFL, 0);
    (void) close_range(4, ~0U, 0);

    reply = fg_usagelog_aggregate(usage_path, filter, &err);
    if (reply == NULL) {
        int n = snprintf(head, sizeof(head), "E%d\n%s\n", (int) err.code,
                         err.param);

        rc = query_write_all(out, head, (size_t) n)
             | query_write_all(out, err.msg, strlen(err.msg));
        _exit(rc == 0 ? 0 : 1);
    }
    /* 15 digits: as admin_send() prints every other reply. */
    text = json_dumps(reply, JSON_COMPACT | JSON_REAL_PRECISION(15));
    rc = text == NULL ? -1
         : query_write_all(out, "O", 1) | query_write_all(out, text,
                                                          strlen(text));
    _exit(rc == 0 ? 0 : 1);
}

/* Ends @qr: kills its child if still running, reaps it, frees the slot. */
static void
query_end(usage_query_t *qr, int do_kill)
{
    if (qr->pid > 0) {
        if (do_kill) {
            (void) kill(qr->pid, SIGKILL);
        }
        while (waitpid(qr->pid, NULL, 0) < 0 && errno == EINTR) {
        }
    }
    if (qr->read_ev != NULL) {
        event_free(qr->read_ev);
    }
    if (qr->deadline_ev != NULL) {
        event_free(qr->deadline_ev);
    }
    if (qr->fd >= 0) {
        close(qr->fd);
    }
    free(qr->buf);
    memset(qr, 0, sizeof(*qr));
    qr->fd = -1;
}

static void
query_reply_error(usage_query_t *qr, fg_error_code_t code, const char *fmt,
                  ...) __attribute__((format(printf, 3, 4)));

static void
query_reply_error(usage_query_t *qr, fg_error_code_t code, const char *fmt,
                  ...)
{
    fg_err_t err;
    va_list  ap;
    char     msg[FG_ERR_MSG_MAX];

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fg_err_set(&err, code, NULL, "%s", msg);
    if (qr->conn != NULL) {
        fg_httpconn_reply_error(qr->conn, &err, NULL, 0);
        qr->conn = NULL;
    }
}

/* The child closed the pipe: its frame is whole. */
static void
query_finish(usage_query_t *qr)
{
    static const char headers[] = "Content-Type: application/json\r\n"
                                  "Cache-Control: no-store\r\n";
    fg_err_t          err;
    char             *param, *msg;
    int               code;

    if (qr->len >= 1 && qr->buf[0] == 'O' && qr->conn != NULL) {
        qr->buf[qr->len] = '\n';
        fg_httpconn_reply(qr->conn, 200, headers, sizeof(headers) - 1,
                          qr->buf + 1, qr->len);
        qr->conn = NULL;
        return;
    }
    if (qr->len >= 1 && qr->buf[0] == 'E') {
        qr->buf[qr->len] = '\0';
        code = atoi(qr->buf + 1);
        param = strchr(qr->buf, '\n');
        msg = param != NULL ? strchr(param + 1, '\n') : NULL;
        if (msg != NULL && code > FG_E_NONE && code < FG_E__COUNT) {
            *msg++ = '\0';
            fg_err_set(&err, (fg_error_code_t) code,
                       param[1] != '\0' ? param + 1 : NULL, "%s", msg);
            if (code == FG_E_INTERNAL) {
                fg_log(FG_LOG_ERROR, 0, "usage query: %s", msg);
            }
            if (qr->conn != NULL) {
                fg_httpconn_reply_error(qr->conn, &err, NULL, 0);
                qr->conn = NULL;
            }
            return;
        }
    }
    query_reply_error(qr, FG_E_INTERNAL, "the usage query ended without "
                      "a reply");
}

static void
query_read_cb(evutil_socket_t fd, short what, void *arg)
{
    usage_query_t *qr = arg;
    ssize_t        r;
    int            reads;

    (void) what;
    /* Bounded per wake-up, so one query cannot hold the loop. */
    for (reads = 0; reads < 16; reads++) {
        if (qr->cap - qr->len < 65536 + 1) {
            if (qr->cap >= (size_t) FG_USAGE_QUERY_REPLY_MAX + 65536 + 2) {
                query_reply_error(qr, FG_E_INTERNAL, "the usage reply is "
                                  "over %d bytes; narrow it with key, "
                                  "from or to", FG_USAGE_QUERY_REPLY_MAX);
                query_end(qr, 1);
                return;
            }
            qr->cap = qr->cap == 0 ? 65536 * 2 : qr->cap * 2;
            if (qr->cap > (size_t) FG_USAGE_QUERY_REPLY_MAX + 65536 + 2) {
                qr->cap = (size_t) FG_USAGE_QUERY_REPLY_MAX + 65536 + 2;
            }
            qr->buf = fg_xrealloc(qr->buf, qr->cap);
        }
        r = read(fd, qr->buf + qr->len, qr->cap - qr->len - 1);
        if (r > 0) {
            qr->len += (size_t) r;
            if (qr->len > (size_t) FG_USAGE_QUERY_REPLY_MAX + 1) {
                query_reply_error(qr, FG_E_INTERNAL, "the usage reply is "
                                  "over %d bytes; narrow it with key, "
                                  "from or to", FG_USAGE_QUERY_REPLY_MAX);
                query_end(qr, 1);
                return;
            }
            continue;
        }
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        /* End of file (or a broken pipe): the child is done. */
        query_finish(qr);
        query_end(qr, 0);
        return;
    }
}

static void
query_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    usage_query_t *qr = arg;

    (void) fd;
    (void) what;
    fg_log(FG_LOG_WARN, 0, "usage query: no reply within %lld ms "
           "(usage.query_timeout_ms); killed it (pid %d)",
           (long long) qr->set->deadline_ms, (int) qr->pid);
    query_reply_error(qr, FG_E_USAGE_QUERY_TIMEOUT, "the usage query took "
                      "longer than %lld ms; narrow it with key, from or to",
                      (long long) qr->set->deadline_ms);
    query_end(qr, 1);
}

fg_usage_queries_t *
fg_usage_queries_new(struct event_base *base, const char *usage_path,
                     int64_t deadline_ms)
{
    fg_usage_queries_t *q = fg_xcalloc(1, sizeof(*q));
    size_t              i;

    q->base = base;
    q->usage_path = usage_path;
    q->deadline_ms = deadline_ms;
    for (i = 0; i < FG_USAGE_QUERY_MAX; i++) {
        q->slots[i].fd = -1;
    }
    return q;
}

void
fg_usage_queries_free(fg_usage_queries_t *q)
{
    size_t i;

    if (q == NULL) {
        return;
    }
    for (i = 0; i < FG_USAGE_QUERY_MAX; i++) {
        if (q->slots[i].pid > 0) {
            q->slots[i].conn = NULL;
            query_end(&q->slots[i], 1);
        }
    }
    free(q);
}

unsigned
fg_usage_queries_running(const fg_usage_queries_t *q)
{
    unsigned n = 0;
    size_t   i;

    for (i = 0; i < FG_USAGE_QUERY_MAX; i++) {
        n += q->slots[i].pid > 0;
    }
    return n;
}

int
fg_usage_query_start(fg_usage_queries_t *q, fg_httpconn_t *conn,
                     const fg_usagelog_filter_t *filter, fg_err_t *err)
{
    usage_query_t  *qr = NULL;
    struct timeval  deadline = { (time_t) (q->deadline_ms / 1000),
                                 (suseconds_t) (q->deadline_ms % 1000)
                                 * 1000 };
    pid_t           pid, parent = getpid();
    size_t          i;
    int             fds[2];

    for (i = 0; i < FG_USAGE_QUERY_MAX && qr == NULL; i++) {
        if (q->slots[i].pid == 0) {
            qr = &q->slots[i];
        }
    }
    if (qr == NULL) {
        return fg_err_set(err, FG_E_USAGE_QUERY_BUSY, NULL, "%d usage "
                          "queries are running already; retry when one "
                          "is done", FG_USAGE_QUERY_MAX);
    }
    if (pipe2(fds, O_CLOEXEC) != 0) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "pipe2() failed: %s",
                          strerror(errno));
    }
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return fg_err_set(err, FG_E_INTERNAL, NULL, "fork() failed: %s",
                          strerror(errno));
    }
    if (pid == 0) {
        close(fds[0]);
        query_child(q->usage_path, filter, fds[1], parent);
    }
    close(fds[1]);
    (void) fcntl(fds[0], F_SETFL, O_NONBLOCK);
    qr->set = q;
    qr->conn = conn;
    qr->pid = pid;
    qr->fd = fds[0];
    qr->read_ev = event_new(q->base, fds[0], EV_READ | EV_PERSIST,
                            query_read_cb, qr);
    qr->deadline_ev = evtimer_new(q->base, query_deadline_cb, qr);
    if (qr->read_ev == NULL || qr->deadline_ev == NULL
        || event_add(qr->read_ev, NULL) != 0
        || event_add(qr->deadline_ev, &deadline) != 0) {
        qr->conn = NULL;
        query_end(qr, 1);
        return fg_err_set(err, FG_E_INTERNAL, NULL, "the usage query's "
                          "events could not be added");
    }
    fg_httpconn_attach(conn, qr);
    return FG_OK;
}

void
fg_usage_query_gone(void *ctx)
{
    usage_query_t *qr = ctx;

    qr->conn = NULL;
    query_end(qr, 1);
}
