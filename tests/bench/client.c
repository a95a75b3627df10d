/*
 * fg-bench-client: the measurements wrk cannot make, for `make bench`.
 * One process, one epoll loop, non-blocking sockets, HTTP/1.1 keep-alive;
 * no library beyond libc. Every mode prints one JSON object on stdout and
 * exits 0 when every request succeeded (status 200, and for a stream a
 * final "data: [DONE]"), 1 when any failed, 2 on a usage error.
 *
 *   fg-bench-client sse  -a HOST:PORT -b BODY [-k KEY] [-p PATH] -n TOTAL
 *                        [-c CONC] [-T TIMEOUT_S]
 *       TOTAL streaming requests, CONC at a time, each connection reused
 *       for the next request. Per request: time to the first byte of the
 *       body (the first event) and to its last byte, from the moment the
 *       request was written, and to the second event (the first token
 *       when the first event only carries the role); the events seen.
 *   fg-bench-client rate -a HOST:PORT -b BODY [-k KEY] [-p PATH] -r RPS
 *                        -d SECONDS [-c MAXCONN] [-T TIMEOUT_S]
 *       Open-loop load: request i is due at start + i / RPS whether or not
 *       earlier ones finished (a free keep-alive connection is used, a new
 *       one opened up to MAXCONN, else the request waits). Latency runs from
 *       the time a request was due, so queueing is not hidden (as wrk2).
 *   fg-bench-client hold -a HOST:PORT -b STREAM_BODY [-k KEY] [-p PATH]
 *                        -i IDLE -s STREAMS [-H HEALTH_PATH] [-P PID,...]
 *                        [-T TIMEOUT_S]
 *       Opens IDLE keep-alive connections (each does GET HEALTH_PATH once
 *       and then idles), then STREAMS streaming requests on connections of
 *       their own; samples the RSS of each PID at each step (before, idle
 *       held, streams in flight, streams done), then sends GET HEALTH_PATH
 *       again on every idle connection to prove it was held.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define HDR_MAX        8192
#define LINE_KEEP      16
#define MAX_PIDS       64
#define CONNECT_BURST  256

typedef enum { ST_CONNECTING, ST_WRITING, ST_READ_HEAD, ST_READ_BODY,
               ST_IDLE, ST_CLOSED } conn_state_t;
typedef enum { BODY_LENGTH, BODY_CHUNKED, BODY_EOF } body_kind_t;
typedef enum { CH_SIZE, CH_DATA, CH_DATA_CR, CH_TRAILER } chunk_state_t;
typedef enum { KIND_MAIN, KIND_IDLE } conn_kind_t;

typedef struct conn {
    int              fd;
    conn_state_t     state;
    conn_kind_t      kind;
    const char      *out;           /* the request being written */
    size_t           out_len, out_off;
    char             hdr[HDR_MAX];
    size_t           hdr_len;
    int              status;
    int              close_after;
    body_kind_t      body_kind;
    uint64_t         remaining;     /* body bytes or chunk bytes left */
    chunk_state_t    ch;
    uint64_t         ch_size;
    int              ch_size_digits;
    int              trailer_line_len;
    char             line[LINE_KEEP];
    size_t           line_len;
    unsigned         events;
    int              saw_done;
    int64_t          t_due, t_sent, t_first, t_end;
    int64_t          t_now;         /* time of the read being parsed */
    int64_t          t_second;      /* second "data:" event (first token) */
    int              has_request;   /* a request is outstanding */
    int              done_count;    /* requests completed on this conn */
    struct conn     *next_free;
} conn_t;

typedef struct {
    int64_t *v;
    size_t   n, cap;
} samples_t;

static int         ep;
static struct sockaddr_in addr;
static const char *host_arg = NULL;
static char       *req_main;        /* the POST */
static size_t      req_main_len;
static char       *req_health;      /* the GET for idle connections */
static size_t      req_health_len;
static unsigned long n_ok, n_failed;
static unsigned long n_status_bad, n_io_err, n_no_done;
static samples_t   s_first, s_last, s_second;
static int         want_done;       /* a reply must end with [DONE] */
static int         connecting_now;

static int64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("fg-bench-client: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static void *
xmalloc(size_t n)
{
    void *p = malloc(n);

    if (p == NULL) {
        die("out of memory");
    }
    return p;
}

static void
samples_add(samples_t *s, int64_t v)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->v = realloc(s->v, s->cap * sizeof(*s->v));
        if (s->v == NULL) {
            die("out of memory");
        }
    }
    s->v[s->n++] = v;
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

    return (x > y) - (x < y);
}

/* Prints {"n":…,"p50":…,…} in microseconds (3 decimals). */
static void
samples_print(const char *name, samples_t *s)
{
    static const double qs[] = { 50, 90, 99, 99.9 };
    static const char *const qn[] = { "p50", "p90", "p99", "p99_9" };
    double sum = 0;
    size_t i;

    printf("\"%s\":{\"n\":%zu", name, s->n);
    if (s->n > 0) {
        qsort(s->v, s->n, sizeof(*s->v), cmp_i64);
        for (i = 0; i < s->n; i++) {
            sum += (double) s->v[i];
        }
        printf(",\"min\":%.3f,\"mean\":%.3f", s->v[0] / 1e3, sum / s->n / 1e3);
        for (i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
            size_t k = (size_t) (qs[i] / 100.0 * (double) s->n);

            if (k >= s->n) {
                k = s->n - 1;
            }
            printf(",\"%s\":%.3f", qn[i], s->v[k] / 1e3);
        }
        printf(",\"max\":%.3f", s->v[s->n - 1] / 1e3);
    }
    printf("}");
}

static char *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0)
    {
        die("cannot read %s: %s", path, strerror(errno));
    }
    buf = xmalloc((size_t) n + 1);
    if (fread(buf, 1, (size_t) n, f) != (size_t) n) {
        die("cannot read %s", path);
    }
    fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
        n--;
    }
    buf[n] = '\0';
    *len = (size_t) n;
    return buf;
}

static char *
build_request(const char *method, const char *path, const char *key,
    const char *body, size_t body_len, size_t *len)
{
    size_t cap = 1024 + strlen(path) + (key ? strlen(key) : 0) + body_len;
    char *buf = xmalloc(cap);
    int n;

    n = snprintf(buf, cap, "%s %s HTTP/1.1\r\nHost: %s\r\n%s%s%s", method,
                 path, host_arg, key && *key ? "Authorization: Bearer " : "",
                 key && *key ? key : "", key && *key ? "\r\n" : "");
    if (body != NULL) {
        n += snprintf(buf + n, cap - (size_t) n,
                      "Content-Type: application/json\r\n"
                      "Content-Length: %zu\r\n\r\n", body_len);
        memcpy(buf + n, body, body_len);
        n += (int) body_len;
    } else {
        n += snprintf(buf + n, cap - (size_t) n, "\r\n");
    }
    *len = (size_t) n;
    return buf;
}

static void
ep_set(conn_t *c, uint32_t events, int op)
{
    struct epoll_event ev;

    ev.events = events;
    ev.data.ptr = c;
    if (epoll_ctl(ep, op, c->fd, &ev) != 0) {
        die("epoll_ctl: %s", strerror(errno));
    }
}

static void
conn_close(conn_t *c)
{
    if (c->fd >= 0) {
        if (c->state == ST_CONNECTING) {
            connecting_now--;
        }
        close(c->fd);
    }
    c->fd = -1;
    c->state = ST_CLOSED;
}

/* Starts a non-blocking connect; the request (if any) is written once it
 * completes. */
static int
conn_open(conn_t *c)
{
    int one = 1;

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        fprintf(stderr, "fg-bench-client: socket: %s\n", strerror(errno));
        return -1;
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *) &addr, sizeof(addr)) != 0
        && errno != EINPROGRESS)
    {
        fprintf(stderr, "fg-bench-client: connect: %s\n", strerror(errno));
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    c->state = ST_CONNECTING;
    connecting_now++;
    ep_set(c, EPOLLOUT, EPOLL_CTL_ADD);
    return 0;
}

static void
conn_reset_reply(conn_t *c)
{
    c->hdr_len = 0;
    c->status = 0;
    c->close_after = 0;
    c->body_kind = BODY_EOF;
    c->remaining = 0;
    c->ch = CH_SIZE;
    c->ch_size = 0;
    c->ch_size_digits = 0;
    c->trailer_line_len = 0;
    c->line_len = 0;
    c->events = 0;
    c->saw_done = 0;
    c->t_first = 0;
    c->t_second = 0;
    c->t_end = 0;
}

/* Queues a request on a connected, idle connection and tries to write. */
static void conn_write(conn_t *c);
typedef void (*done_cb)(conn_t *c, int ok);
static done_cb on_done;
static void finish(conn_t *c, int ok);

static void
conn_send(conn_t *c, const char *req, size_t len, int64_t due)
{
    conn_reset_reply(c);
    c->out = req;
    c->out_len = len;
    c->out_off = 0;
    c->t_due = due;
    c->t_sent = 0;
    c->has_request = 1;
    if (c->state == ST_IDLE) {
        c->state = ST_WRITING;
        conn_write(c);
    } else if (c->state == ST_CLOSED && conn_open(c) != 0) {
        c->state = ST_CLOSED;
        c->has_request = 0;
        n_io_err++;
        on_done(c, 0);
    }
}

static void
conn_write(conn_t *c)
{
    if (c->t_sent == 0) {
        c->t_sent = now_ns();
    }
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                         MSG_NOSIGNAL);

        if (n < 0) {
            if (errno == EAGAIN) {
                ep_set(c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
                return;
            }
            finish(c, 0);
            return;
        }
        c->out_off += (size_t) n;
    }
    c->state = ST_READ_HEAD;
    ep_set(c, EPOLLIN, EPOLL_CTL_MOD);
}

/* One complete line of the body (its first LINE_KEEP bytes). */
static void
body_line(conn_t *c)
{
    size_t n = c->line_len;

    while (n > 0 && c->line[n - 1] == '\r') {
        n--;
    }
    if (n >= 5 && memcmp(c->line, "data:", 5) == 0) {
        c->events++;
        if (c->events == 2) {
            c->t_second = c->t_now;
        }
        if ((n == 12 && memcmp(c->line + 5, " [DONE]", 7) == 0)
            || (n == 11 && memcmp(c->line + 5, "[DONE]", 6) == 0))
        {
            c->saw_done = 1;
        }
    }
    c->line_len = 0;
}

static void
body_bytes(conn_t *c, const char *p, size_t n, int64_t t)
{
    size_t i;

    if (n == 0) {
        return;
    }
    if (c->t_first == 0) {
        c->t_first = t;
    }
    c->t_now = t;
    for (i = 0; i < n; i++) {
        if (p[i] == '\n') {
            body_line(c);
        } else if (c->line_len < LINE_KEEP) {
            c->line[c->line_len++] = p[i];
        } else {
            c->line[LINE_KEEP - 1] = 'x';   /* too long to be [DONE] */
        }
    }
}

/* Feeds body bytes through the framing; returns 1 when the body is
 * complete, 0 when more is needed, -1 on a framing error. */
static int
body_feed(conn_t *c, const char *p, size_t n, int64_t t)
{
    while (n > 0) {
        if (c->body_kind == BODY_EOF) {
            body_bytes(c, p, n, t);
            return 0;
        }
        if (c->body_kind == BODY_LENGTH) {
            size_t take = n < c->remaining ? n : (size_t) c->remaining;

            body_bytes(c, p, take, t);
            c->remaining -= take;
            p += take;
            n -= take;
            if (c->remaining == 0) {
                return n == 0 ? 1 : -1;
            }
            continue;
        }
        switch (c->ch) {
        case CH_SIZE:
            if (*p == '\n') {
                if (c->ch_size_digits == 0) {
                    return -1;
                }
                c->ch = c->ch_size == 0 ? CH_TRAILER : CH_DATA;
                c->remaining = c->ch_size;
                c->trailer_line_len = 0;
            } else if (c->ch_size_digits >= 0) {
                int d = -1;

                if (*p >= '0' && *p <= '9') {
                    d = *p - '0';
                } else if (*p >= 'a' && *p <= 'f') {
                    d = *p - 'a' + 10;
                } else if (*p >= 'A' && *p <= 'F') {
                    d = *p - 'A' + 10;
                }
                if (d >= 0 && c->ch_size_digits < 15) {
                    c->ch_size = c->ch_size * 16 + (uint64_t) d;
                    c->ch_size_digits++;
                } else if (*p == ';' || *p == '\r' || *p == ' ') {
                    if (c->ch_size_digits == 0) {
                        return -1;
                    }
                    c->ch_size_digits = -c->ch_size_digits; /* ext: skip */
                } else {
                    return -1;
                }
            }
            p++;
            n--;
            break;
        case CH_DATA: {
            size_t take = n < c->remaining ? n : (size_t) c->remaining;

            body_bytes(c, p, take, t);
            c->remaining -= take;
            p += take;
            n -= take;
            if (c->remaining == 0) {
                c->ch = CH_DATA_CR;
            }
            break;
        }
        case CH_DATA_CR:
            if (*p == '\n') {
                c->ch = CH_SIZE;
                c->ch_size = 0;
                c->ch_size_digits = 0;
            } else if (*p != '\r') {
                return -1;
            }
            p++;
            n--;
            break;
        case CH_TRAILER:
            if (*p == '\n') {
                if (c->trailer_line_len == 0) {
                    p++;
                    n--;
                    return n == 0 ? 1 : -1;
                }
                c->trailer_line_len = 0;
            } else if (*p != '\r') {
                c->trailer_line_len++;
            }
            p++;
            n--;
            break;
        }
    }
    return 0;
}

static int
header_is(const char *line, size_t len, const char *name, const char **val)
{
    size_t nl = strlen(name);

    if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':') {
        return 0;
    }
    line += nl + 1;
    while (*line == ' ' || *line == '\t') {
        line++;
    }
    *val = line;
    return 1;
}

/* Parses the head in c->hdr (ends with \r\n\r\n at hdr_len); -1 if bad. */
static int
head_parse(conn_t *c)
{
    char *p = c->hdr, *end = c->hdr + c->hdr_len, *eol;
    const char *v;

    if (c->hdr_len < 12 || memcmp(p, "HTTP/1.", 7) != 0) {
        return -1;
    }
    c->status = atoi(p + 9);
    if (p[7] == '0') {
        c->close_after = 1;
    }
    c->body_kind = BODY_EOF;
    while ((eol = memchr(p, '\n', (size_t) (end - p))) != NULL) {
        size_t len = (size_t) (eol - p);

        *eol = '\0';
        if (len > 0 && p[len - 1] == '\r') {
            p[--len] = '\0';
        }
        if (header_is(p, len, "content-length", &v)) {
            c->body_kind = BODY_LENGTH;
            c->remaining = strtoull(v, NULL, 10);
        } else if (header_is(p, len, "transfer-encoding", &v)
                   && strcasestr(v, "chunked") != NULL)
        {
            c->body_kind = BODY_CHUNKED;
        } else if (header_is(p, len, "connection", &v)
                   && strcasestr(v, "close") != NULL)
        {
            c->close_after = 1;
        }
        p = eol + 1;
    }
    return 0;
}

static void
finish(conn_t *c, int ok)
{
    c->has_request = 0;
    if (ok && c->status != 200) {
        n_status_bad++;
        ok = 0;
    } else if (ok && want_done && c->kind == KIND_MAIN && !c->saw_done) {
        n_no_done++;
        ok = 0;
    } else if (!ok) {
        n_io_err++;
    }
    if (!ok || c->close_after) {
        conn_close(c);
    } else {
        c->state = ST_IDLE;
        c->done_count++;
    }
    on_done(c, ok);
}

static void
conn_read(conn_t *c)
{
    char buf[65536];

    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
        int64_t t;
        char *p = buf;
        size_t left;
        int r;

        if (n < 0) {
            if (errno == EAGAIN) {
                return;
            }
            finish(c, 0);
            return;
        }
        if (n == 0) {
            if (c->has_request && c->state == ST_READ_BODY
                && c->body_kind == BODY_EOF)
            {
                c->t_end = now_ns();
                c->close_after = 1;
                finish(c, 1);
            } else if (c->has_request) {
                finish(c, 0);
            } else {
                conn_close(c);      /* the server closed an idle conn */
            }
            return;
        }
        if (!c->has_request) {
            n_io_err++;         /* bytes nobody asked for */
            conn_close(c);
            return;
        }
        t = now_ns();
        left = (size_t) n;
        if (c->state == ST_READ_HEAD) {
            size_t take = left;
            char *hend;

            if (c->hdr_len + take > HDR_MAX - 1) {
                take = HDR_MAX - 1 - c->hdr_len;
            }
            memcpy(c->hdr + c->hdr_len, p, take);
            c->hdr_len += take;
            c->hdr[c->hdr_len] = '\0';
            hend = strstr(c->hdr, "\r\n\r\n");
            if (hend == NULL) {
                if (c->hdr_len >= HDR_MAX - 1) {
                    finish(c, 0);
                    return;
                }
                continue;
            }
            {
                size_t head_len = (size_t) (hend - c->hdr) + 4;
                size_t body_in_hdr = c->hdr_len - head_len;

                /* body bytes that came with the head: from buf */
                p = buf + (take - body_in_hdr);
                left = body_in_hdr + (left - take);
                c->hdr_len = head_len;
            }
            if (head_parse(c) != 0) {
                finish(c, 0);
                return;
            }
            c->state = ST_READ_BODY;
            if (c->body_kind == BODY_LENGTH && c->remaining == 0) {
                c->t_end = t;
                finish(c, left == 0);
                return;
            }
        }
        r = body_feed(c, p, left, t);
        if (r < 0) {
            finish(c, 0);
            return;
        }
        if (r == 1) {
            c->t_end = t;
            finish(c, 1);
            return;
        }
    }
}

static void
conn_event(conn_t *c, uint32_t ev)
{
    if (c->state == ST_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);

        connecting_now--;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0 || (ev & (EPOLLERR | EPOLLHUP))) {
            c->state = ST_CLOSED;
            close(c->fd);
            c->fd = -1;
            n_io_err++;
            c->has_request = 0;
            on_done(c, 0);
            return;
        }
        if (c->has_request) {
            c->state = ST_WRITING;
            conn_write(c);
        } else {
            c->state = ST_IDLE;
            ep_set(c, EPOLLIN, EPOLL_CTL_MOD);
        }
        return;
    }
    if (c->state == ST_CLOSED) {
        return;
    }
    if (c->state == ST_WRITING) {
        if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
            conn_write(c);
        }
        return;
    }
    if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        conn_read(c);
    }
}

/* Runs the loop until *flag is true or the deadline passes; a timerfd in
 * the set (tfd, with tick) is handled by the caller's tick. */
static int  timer_fd = -1;
static void (*on_tick)(void);

static int
loop_until(volatile int *flag, int64_t deadline)
{
    struct epoll_event evs[256];

    while (!*flag) {
        int64_t left = deadline - now_ns();
        int i, n, ms;

        if (left <= 0) {
            return -1;
        }
        ms = (int) (left / 1000000) + 1;
        n = epoll_wait(ep, evs, 256, ms > 100 ? 100 : ms);
        if (n < 0 && errno != EINTR) {
            die("epoll_wait: %s", strerror(errno));
        }
        for (i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) {
                uint64_t x;

                if (read(timer_fd, &x, sizeof(x)) < 0) { /* drained */ }
                on_tick();
            } else {
                conn_event(evs[i].data.ptr, evs[i].events);
            }
        }
    }
    return 0;
}

/* ---- sse mode ---------------------------------------------------------- */

static unsigned long m_total, m_started, m_finished;
static volatile int m_all_done;

static void
sse_next(conn_t *c)
{
    if (m_started >= m_total) {
        return;
    }
    m_started++;
    conn_send(c, req_main, req_main_len, now_ns());
}

static void
sse_done(conn_t *c, int ok)
{
    m_finished++;
    if (ok) {
        n_ok++;
        samples_add(&s_first, (c->t_first ? c->t_first : c->t_end)
                              - c->t_sent);
        samples_add(&s_last, c->t_end - c->t_sent);
        if (c->t_second != 0) {
            samples_add(&s_second, c->t_second - c->t_sent);
        }
    } else {
        n_failed++;
    }
    if (m_finished >= m_total) {
        m_all_done = 1;
        return;
    }
    sse_next(c);
}

static unsigned long sse_events_sum;

static void
sse_done_events(conn_t *c, int ok)
{
    if (ok) {
        sse_events_sum += c->events;
    }
    sse_done(c, ok);
}

static int
run_sse(unsigned long total, unsigned conc, int64_t timeout_ns)
{
    conn_t *conns;
    unsigned i;
    int64_t t0;
    int timed_out;

    want_done = 1;
    on_done = sse_done_events;
    m_total = total;
    conns = calloc(conc, sizeof(*conns));
    t0 = now_ns();
    for (i = 0; i < conc && m_started < total; i++) {
        conns[i].fd = -1;
        conns[i].state = ST_CLOSED;
        sse_next(&conns[i]);
    }
    timed_out = loop_until(&m_all_done, t0 + timeout_ns) != 0;
    if (timed_out) {
        n_failed += total - m_finished;
    }
    printf("{\"mode\":\"sse\",\"requests\":%lu,\"ok\":%lu,\"failed\":%lu,"
           "\"bad_status\":%lu,\"io_errors\":%lu,\"no_done\":%lu,"
           "\"timed_out\":%s,\"events_per_stream\":%.1f,\"seconds\":%.3f,",
           total, n_ok, n_failed, n_status_bad, n_io_err, n_no_done,
           timed_out ? "true" : "false",
           n_ok ? (double) sse_events_sum / n_ok : 0.0,
           (now_ns() - t0) / 1e9);
    samples_print("first_byte_us", &s_first);
    printf(",");
    samples_print("second_event_us", &s_second);
    printf(",");
    samples_print("last_byte_us", &s_last);
    printf("}\n");
    return n_failed ? 1 : 0;
}

/* ---- rate mode --------------------------------------------------------- */

static conn_t  *r_conns;
static unsigned r_max, r_open;
static conn_t  *r_free;             /* idle connections */
static int64_t  r_t0, r_interval, r_end;
static unsigned long r_due_sent;    /* requests whose due time came */
static unsigned long r_queued;      /* due, waiting for a connection */
static int64_t *r_queue_due;        /* ring of due times */
static unsigned long r_q_head, r_q_cap;
static volatile int r_stop;
static unsigned long r_total;

static void
rate_arm(void)
{
    struct itimerspec its;
    int64_t next = r_t0 + (int64_t) r_due_sent * r_interval;

    memset(&its, 0, sizeof(its));
    its.it_value.tv_sec = next / 1000000000;
    its.it_value.tv_nsec = next % 1000000000;
    if (timerfd_settime(timer_fd, TFD_TIMER_ABSTIME, &its, NULL) != 0) {
        die("timerfd_settime: %s", strerror(errno));
    }
}

static void
rate_dispatch(void)
{
    while (r_queued > 0) {
        conn_t *c = r_free;
        int64_t due = r_queue_due[r_q_head % r_q_cap];

        if (c != NULL) {
            r_free = c->next_free;
            c->next_free = NULL;
        } else if (r_open < r_max) {
            c = &r_conns[r_open++];
            c->fd = -1;
            c->state = ST_CLOSED;
        } else {
            return;
        }
        r_q_head++;
        r_queued--;
        conn_send(c, req_main, req_main_len, due);
    }
}

static void
rate_tick(void)
{
    int64_t t = now_ns();

    while (r_due_sent < r_total && r_t0 + (int64_t) r_due_sent * r_interval <= t) {
        if (r_queued >= r_q_cap) {
            die("queue overflow");
        }
        r_queue_due[(r_q_head + r_queued) % r_q_cap] =
            r_t0 + (int64_t) r_due_sent * r_interval;
        r_queued++;
        r_due_sent++;
    }
    rate_dispatch();
    if (r_due_sent < r_total) {
        rate_arm();
    }
}

static void
rate_done(conn_t *c, int ok)
{
    m_finished++;
    if (ok) {
        n_ok++;
        samples_add(&s_last, c->t_end - c->t_due);
        samples_add(&s_first, c->t_end - c->t_sent);
    } else {
        n_failed++;
    }
    if (c->state == ST_IDLE) {
        c->next_free = r_free;
        r_free = c;
    } else if (c->state == ST_CLOSED && !ok) {
        /* a broken connection: reopen it for the next due request */
        c->next_free = r_free;
        r_free = c;
    } else if (c->state == ST_CLOSED) {
        c->next_free = r_free;      /* "Connection: close": reopen */
        r_free = c;
    }
    if (m_finished >= r_total) {
        r_stop = 1;
        return;
    }
}

static int
run_rate(double rps, double seconds, unsigned maxconn, int64_t timeout_ns)
{
    struct epoll_event ev;
    int timed_out;
    double elapsed;

    on_done = rate_done;
    r_max = maxconn;
    r_conns = calloc(maxconn, sizeof(*r_conns));
    r_total = (unsigned long) (rps * seconds);
    r_interval = (int64_t) (1e9 / rps);
    r_q_cap = r_total + 1;
    r_queue_due = xmalloc(r_q_cap * sizeof(*r_queue_due));
    timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    ev.events = EPOLLIN;
    ev.data.ptr = NULL;
    epoll_ctl(ep, EPOLL_CTL_ADD, timer_fd, &ev);
    on_tick = rate_tick;
    r_t0 = now_ns() + 1000000;
    r_end = r_t0 + (int64_t) (seconds * 1e9);
    rate_arm();
    timed_out = loop_until(&r_stop, r_end + timeout_ns) != 0;
    elapsed = (now_ns() - r_t0) / 1e9;
    if (timed_out) {
        n_failed += r_total - m_finished;
    }
    printf("{\"mode\":\"rate\",\"offered_rps\":%.1f,\"requests\":%lu,"
           "\"ok\":%lu,\"failed\":%lu,\"bad_status\":%lu,\"io_errors\":%lu,"
           "\"timed_out\":%s,\"achieved_rps\":%.1f,\"connections\":%u,",
           rps, r_total, n_ok, n_failed, n_status_bad, n_io_err,
           timed_out ? "true" : "false", n_ok / elapsed, r_open);
    samples_print("latency_us", &s_last);
    printf(",");
    samples_print("service_us", &s_first);
    printf("}\n");
    return n_failed ? 1 : 0;
}

/* ---- hold mode --------------------------------------------------------- */

static int    h_pids[MAX_PIDS];
static int    h_npids;
static unsigned long h_pending;
static volatile int h_flag;
static unsigned long h_streams_first;   /* streams that got a first byte */
static unsigned long h_idle_ok, h_idle_failed, h_stream_ok, h_stream_failed;
static unsigned long h_recheck_ok, h_recheck_failed;
static int    h_phase;                  /* 0 idle open, 1 streams, 2 recheck */

static void
hold_sample(const char *name, int first)
{
    int i;

    printf("%s\"%s\":{", first ? "" : ",", name);
    for (i = 0; i < h_npids; i++) {
        char path[64], line[256];
        long rss = -1, anon = -1, file = -1, shm = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", h_pids[i]);
        f = fopen(path, "r");
        while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
            sscanf(line, "VmRSS: %ld", &rss);
            sscanf(line, "RssAnon: %ld", &anon);
            sscanf(line, "RssFile: %ld", &file);
            sscanf(line, "RssShmem: %ld", &shm);
        }
        if (f != NULL) {
            fclose(f);
        }
        printf("%s\"%d\":{\"rss_kb\":%ld,\"anon_kb\":%ld,\"file_kb\":%ld,"
               "\"shmem_kb\":%ld}", i ? "," : "", h_pids[i], rss, anon,
               file, shm);
    }
    printf("}");
    fflush(stdout);
}

static void
hold_done(conn_t *c, int ok)
{
    if (c->kind == KIND_IDLE) {
        if (h_phase == 2) {
            ok ? h_recheck_ok++ : h_recheck_failed++;
        } else {
            ok ? h_idle_ok++ : h_idle_failed++;
        }
    } else {
        ok ? h_stream_ok++ : h_stream_failed++;
    }
    if (--h_pending == 0) {
        h_flag = 1;
    }
}

/* Opens conns[from..to) with the request given, CONNECT_BURST at a time,
 * running the loop while connects are outstanding. */
static void
hold_open(conn_t *conns, unsigned from, unsigned to, conn_kind_t kind,
    const char *req, size_t len, int64_t deadline)
{
    struct epoll_event evs[256];
    unsigned i;

    for (i = from; i < to; i++) {
        conn_t *c = &conns[i];

        while (connecting_now >= CONNECT_BURST && now_ns() < deadline) {
            int k, n = epoll_wait(ep, evs, 256, 50);

            for (k = 0; k < n; k++) {
                conn_event(evs[k].data.ptr, evs[k].events);
            }
        }
        c->fd = -1;
        c->kind = kind;
        conn_reset_reply(c);
        c->out = req;
        c->out_len = len;
        c->out_off = 0;
        c->t_sent = 0;
        c->t_due = now_ns();
        c->has_request = 1;
        h_pending++;
        if (conn_open(c) != 0) {
            c->has_request = 0;
            c->state = ST_CLOSED;
            hold_done(c, 0);
        }
    }
}

static void
hold_streams_first_check(conn_t *conns, unsigned from, unsigned to)
{
    unsigned i, got = 0;

    for (i = from; i < to; i++) {
        if (conns[i].t_first != 0 || conns[i].state == ST_CLOSED
            || !conns[i].has_request)
        {
            got++;
        }
    }
    h_streams_first = got;
}

static int
run_hold(unsigned idle, unsigned streams, int64_t timeout_ns)
{
    conn_t *conns = calloc(idle + streams, sizeof(*conns));
    int64_t t0 = now_ns(), deadline = t0 + timeout_ns, t_streams;
    struct epoll_event evs[256];
    unsigned i;
    int failed;

    want_done = 1;
    on_done = hold_done;
    printf("{\"mode\":\"hold\",\"idle\":%u,\"streams\":%u,\"rss\":{",
           idle, streams);
    hold_sample("before", 1);

    /* 1. idle keep-alive connections: one GET each, then nothing */
    h_phase = 0;
    h_flag = 0;
    hold_open(conns, 0, idle, KIND_IDLE, req_health, req_health_len,
              deadline);
    h_flag = h_pending == 0;
    loop_until(&h_flag, deadline);
    usleep(300000);
    hold_sample("idle_held", 0);

    /* 2. slow streams on connections of their own, all at once */
    h_phase = 1;
    h_flag = 0;
    t_streams = now_ns();
    hold_open(conns, idle, idle + streams, KIND_MAIN, req_main, req_main_len,
              deadline);
    while (now_ns() < deadline) {
        int k, n;

        hold_streams_first_check(conns, idle, idle + streams);
        if (h_streams_first >= streams) {
            break;
        }
        n = epoll_wait(ep, evs, 256, 50);
        for (k = 0; k < n; k++) {
            conn_event(evs[k].data.ptr, evs[k].events);
        }
    }
    printf("},\"all_streams_started_s\":%.3f,\"rss_in_flight\":{",
           (now_ns() - t_streams) / 1e9);
    {
        /* streams in flight now: sample, then let them run */
        unsigned inflight = 0;

        for (i = idle; i < idle + streams; i++) {
            inflight += conns[i].has_request;
        }
        printf("\"streams_in_flight\":%u,\"sample\":{", inflight);
        hold_sample("in_flight", 1);
        printf("}}");
    }
    h_flag = h_pending == 0;
    loop_until(&h_flag, deadline);
    printf(",\"streams_s\":%.3f,\"rss_after\":{", (now_ns() - t_streams) / 1e9);
    hold_sample("streams_done", 1);
    printf("}");

    /* 3. every idle connection must still be there and answer */
    h_phase = 2;
    h_flag = 0;
    for (i = 0; i < idle; i++) {
        conn_t *c = &conns[i];

        if (c->state == ST_IDLE) {
            h_pending++;
            conn_send(c, req_health, req_health_len, now_ns());
        } else {
            h_recheck_failed++;
        }
    }
    h_flag = h_pending == 0;
    loop_until(&h_flag, deadline);
    failed = h_idle_failed || h_stream_failed || h_recheck_failed
             || h_idle_ok != idle || h_stream_ok != streams
             || h_recheck_ok != idle;
    printf(",\"idle_ok\":%lu,\"idle_failed\":%lu,\"stream_ok\":%lu,"
           "\"stream_failed\":%lu,\"bad_status\":%lu,\"io_errors\":%lu,"
           "\"no_done\":%lu,\"idle_recheck_ok\":%lu,"
           "\"idle_recheck_failed\":%lu,\"seconds\":%.3f,\"ok\":%s}\n",
           h_idle_ok, h_idle_failed, h_stream_ok, h_stream_failed,
           n_status_bad, n_io_err, n_no_done, h_recheck_ok, h_recheck_failed,
           (now_ns() - t0) / 1e9, failed ? "false" : "true");
    return failed ? 1 : 0;
}

static void
usage(void)
{
    fprintf(stderr,
        "usage: fg-bench-client sse  -a HOST:PORT -b BODY [-k KEY] [-p PATH] "
        "-n TOTAL [-c CONC] [-T S]\n"
        "       fg-bench-client rate -a HOST:PORT -b BODY [-k KEY] [-p PATH] "
        "-r RPS -d S [-c MAXCONN] [-T S]\n"
        "       fg-bench-client hold -a HOST:PORT -b BODY [-k KEY] [-p PATH] "
        "-i IDLE -s STREAMS [-H PATH] [-P PID,…] [-T S]\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    const char *mode, *body_file = NULL, *key = NULL;
    const char *path = "/v1/chat/completions", *health = "/healthz";
    unsigned long total = 100;
    unsigned conc = 1, idle = 0, streams = 0;
    double rps = 0, seconds = 0, timeout_s = 120;
    char *body, host[128], *colon;
    size_t body_len;
    struct rlimit rl;
    int opt;

    if (argc < 2) {
        usage();
    }
    mode = argv[1];
    optind = 2;
    while ((opt = getopt(argc, argv, "a:b:k:p:n:c:r:d:i:s:H:P:T:")) != -1) {
        switch (opt) {
        case 'a': host_arg = optarg; break;
        case 'b': body_file = optarg; break;
        case 'k': key = optarg; break;
        case 'p': path = optarg; break;
        case 'n': total = strtoul(optarg, NULL, 10); break;
        case 'c': conc = (unsigned) strtoul(optarg, NULL, 10); break;
        case 'r': rps = atof(optarg); break;
        case 'd': seconds = atof(optarg); break;
        case 'i': idle = (unsigned) strtoul(optarg, NULL, 10); break;
        case 's': streams = (unsigned) strtoul(optarg, NULL, 10); break;
        case 'H': health = optarg; break;
        case 'T': timeout_s = atof(optarg); break;
        case 'P': {
            char *s = optarg, *end;

            while (*s && h_npids < MAX_PIDS) {
                h_pids[h_npids++] = (int) strtol(s, &end, 10);
                s = *end == ',' ? end + 1 : end;
                if (end == s && *s) {
                    usage();
                }
            }
            break;
        }
        default: usage();
        }
    }
    if (host_arg == NULL || body_file == NULL || conc == 0) {
        usage();
    }
    snprintf(host, sizeof(host), "%s", host_arg);
    colon = strrchr(host, ':');
    if (colon == NULL) {
        usage();
    }
    *colon = '\0';
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t) atoi(colon + 1));
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        die("bad address %s", host_arg);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    body = read_file(body_file, &body_len);
    req_main = build_request("POST", path, key, body, body_len, &req_main_len);
    req_health = build_request("GET", health, NULL, NULL, 0, &req_health_len);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        die("epoll_create1: %s", strerror(errno));
    }
    if (strcmp(mode, "sse") == 0) {
        return run_sse(total, conc, (int64_t) (timeout_s * 1e9));
    }
    if (strcmp(mode, "rate") == 0) {
        if (rps <= 0 || seconds <= 0) {
            usage();
        }
        return run_rate(rps, seconds, conc, (int64_t) (timeout_s * 1e9));
    }
    if (strcmp(mode, "hold") == 0) {
        if (idle + streams == 0) {
            usage();
        }
        return run_hold(idle, streams, (int64_t) (timeout_s * 1e9));
    }
    usage();
    return 2;
}
