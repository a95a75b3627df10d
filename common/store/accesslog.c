/*
 * accesslog.c: one JSON line per finished request.
 *
 * A line is built in a buffer the handle keeps between requests, then
 * handed to the kernel with a single write(2) on an O_APPEND descriptor:
 * every worker has its own descriptor on the same file, and the kernel
 * appends each write whole, so lines from different workers never
 * interleave. Nothing here waits but that write; a write that fails or
 * comes up short loses the line and is counted, never retried (a retry
 * could land half a line after another worker's).
 *
 * Strings are escaped here rather than through jansson because jansson
 * refuses text that is not UTF-8, and a client's model name or request id
 * may be anything: bytes that are not UTF-8 become U+FFFD, control bytes
 * are escaped, and each field is cut at FG_ACCESSLOG_FIELD_MAX bytes. The
 * content (messages and reply, only when asked for) is already parsed JSON
 * and is dumped by jansson, bounded by FG_ACCESSLOG_CONTENT_MAX. So a line
 * is always one valid JSON object on one line, whatever the client sent.
 *
 * It never sees a key's secret: the summary carries the public key id only.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/store/accesslog.h"
#include "common/base/alloc.h"
#include "common/wire/fmt.h"
#include "common/wire/json.h"
#include "common/wire/utf8.h"

/* The fields other than content: at most a dozen strings of
 * FG_ACCESSLOG_FIELD_MAX bytes, each escaped to at most 6 bytes a byte. */
#define ACCESSLOG_FIXED_MAX  (64 * 1024)
#define ACCESSLOG_LINE_MAX   (ACCESSLOG_FIXED_MAX + FG_ACCESSLOG_CONTENT_MAX)

/* A string literal, its length counted by the compiler. */
#define ACCESSLOG_PUT_LIT(log, lit)                                         \
    accesslog_put((log), (lit), sizeof(lit) - 1)

struct fg_accesslog_s {
    int       fd;
    int       is_stderr;      /* fd 2: not ours to reopen or close */
    int       with_content;
    char     *path;
    char     *buf;            /* whole lines not yet written, then the
                                 line being built; kept for reuse */
    size_t    len;
    size_t    cap;
    size_t    line_start;     /* where the line being built began */
    size_t    content_start;  /* where the content being dumped began */
    uint64_t  lines_pending;  /* whole lines in buf */
    time_t    second;         /* the second second_text shows */
    char      second_text[64];    /* "2026-11-23T11:52:03 with its quote */
    uint64_t  failures;
};

static int accesslog_open_fd(const char *path, fg_err_t *err);
static int accesslog_reserve(fg_accesslog_t *log, size_t n);
static void accesslog_put(fg_accesslog_t *log, const char *s, size_t n);
static void accesslog_put_g6(fg_accesslog_t *log, double v);
static void accesslog_put_str(fg_accesslog_t *log, const char *s);
static void accesslog_put_str_or_null(fg_accesslog_t *log, const char *s);
static void accesslog_put_i64(fg_accesslog_t *log, int64_t v);
static void accesslog_put_bool(fg_accesslog_t *log, int v);
static void accesslog_put_ms(fg_accesslog_t *log, int64_t us);
static void accesslog_put_time(fg_accesslog_t *log, int64_t unix_ms);
static int accesslog_dump_cb(const char *buffer, size_t size, void *data);
static int accesslog_put_json(fg_accesslog_t *log, const json_t *json);
static json_t *accesslog_reply_messages(const fg_request_summary_t *s);
static void accesslog_put_content(fg_accesslog_t *log,
                                  const fg_request_summary_t *s);

fg_accesslog_t *
fg_accesslog_open(const char *path, int with_content, fg_err_t *err)
{
    fg_accesslog_t *log;
    int             fd;

    if (strcmp(path, "stderr") == 0) {
        fd = STDERR_FILENO;
    } else if ((fd = accesslog_open_fd(path, err)) < 0) {
        return NULL;
    }
    log = fg_xcalloc(1, sizeof(*log));
    log->fd = fd;
    log->is_stderr = strcmp(path, "stderr") == 0;
    log->with_content = with_content;
    log->path = fg_xstrdup(path);
    log->second = -1;
    return log;
}

static int
accesslog_open_fd(const char *path, fg_err_t *err)
{
    int fd;

    /* O_NONBLOCK: opening a FIFO nobody reads fails instead of waiting,
     * which matters when SIGUSR1 reopens in the middle of serving. */
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK,
              0640);
    if (fd < 0) {
        fg_err_set(err, FG_E_INTERNAL, NULL,
                   "open(\"%s\") for the access log failed: %s", path,
                   strerror(errno));
    }
    return fd;
}

int
fg_accesslog_reopen(fg_accesslog_t *log, fg_err_t *err)
{
    int fd;

    if (log->is_stderr) {
        return FG_OK;
    }
    fd = accesslog_open_fd(log->path, err);
    if (fd < 0) {
        return FG_ERR;   /* the old file stays in use */
    }
    fg_accesslog_flush(log);   /* lines written before go to the old file */
    close(log->fd);
    log->fd = fd;
    return FG_OK;
}

uint64_t
fg_accesslog_failures(const fg_accesslog_t *log)
{
    return log->failures;
}

void
fg_accesslog_close(fg_accesslog_t *log)
{
    if (log == NULL) {
        return;
    }
    fg_accesslog_flush(log);
    if (!log->is_stderr) {
        close(log->fd);
    }
    free(log->path);
    free(log->buf);
    free(log);
}

int
fg_accesslog_check(const char *path, fg_err_t *err)
{
    char        dir[4096];
    const char *slash;
    struct stat st;
    size_t      n;

    if (strcmp(path, "off") == 0 || strcmp(path, "stderr") == 0) {
        return FG_OK;
    }
    if (path[0] == '\0') {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "empty path (\"off\" turns the log off)");
    }
    slash = strrchr(path, '/');
    if (slash == NULL) {
        snprintf(dir, sizeof(dir), ".");
    } else {
        n = slash == path ? 1 : (size_t) (slash - path);
        if (n >= sizeof(dir)) {
            return fg_err_set(err, FG_E_OUT_OF_RANGE, NULL, "path too long");
        }
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    if (stat(dir, &st) != 0) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "folder \"%s\": %s", dir, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "\"%s\" is not a folder", dir);
    }
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                              "\"%s\" is a folder", path);
        }
        if (access(path, W_OK) != 0) {
            return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                              "\"%s\" is not writable: %s", path,
                              strerror(errno));
        }
        return FG_OK;
    }
    if (errno != ENOENT) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL, "\"%s\": %s", path,
                          strerror(errno));
    }
    if (access(dir, W_OK | X_OK) != 0) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "cannot create \"%s\" in \"%s\": %s", path, dir,
                          strerror(errno));
    }
    return FG_OK;
}

/* Room for @n more bytes; a line grows up to ACCESSLOG_LINE_MAX. */
static int
accesslog_reserve(fg_accesslog_t *log, size_t n)
{
    size_t cap;

    if (log->len + n <= log->cap) {
        return FG_OK;
    }
    if (log->len - log->line_start + n > ACCESSLOG_LINE_MAX) {
        return FG_ERR;
    }
    cap = log->cap ? log->cap : 4096;
    while (cap < log->len + n) {
        cap *= 2;
    }
    log->buf = fg_xrealloc(log->buf, cap);
    log->cap = cap;
    return FG_OK;
}

/*
 * The fixed fields cannot outgrow ACCESSLOG_FIXED_MAX (each is bounded), so
 * for them a failed reservation is impossible; it is still checked, and the
 * bytes dropped, rather than trusted.
 */
static void
accesslog_put(fg_accesslog_t *log, const char *s, size_t n)
{
    if (accesslog_reserve(log, n) == FG_OK) {
        memcpy(log->buf + log->len, s, n);
        log->len += n;
    }
}

/* @s as a JSON string, cut at FG_ACCESSLOG_FIELD_MAX bytes (then "..."). */
static void
accesslog_put_str(fg_accesslog_t *log, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *) s;
    size_t               total = strlen(s), i = 0, l;
    char                *o;

    if (accesslog_reserve(log, 6 * FG_ACCESSLOG_FIELD_MAX + 8) != FG_OK) {
        return;
    }
    o = log->buf + log->len;
    *o++ = '"';
    while (i < total && i < FG_ACCESSLOG_FIELD_MAX) {
        l = fg_utf8_len(p + i, total - i);
        if (l > 1 && i + l > FG_ACCESSLOG_FIELD_MAX) {
            break;   /* cut before a character, not inside it */
        }
        if (l == 0) {
            memcpy(o, "\\ufffd", 6);
            o += 6;
            i++;
            continue;
        }
        if (l > 1) {
            memcpy(o, p + i, l);
            o += l;
            i += l;
            continue;
        }
        switch (p[i]) {
        case '"':  *o++ = '\\'; *o++ = '"';  break;
        case '\\': *o++ = '\\'; *o++ = '\\'; break;
        case '\n': *o++ = '\\'; *o++ = 'n';  break;
        case '\r': *o++ = '\\'; *o++ = 'r';  break;
        case '\t': *o++ = '\\'; *o++ = 't';  break;
        default:
            if (p[i] < 0x20) {
                memcpy(o, "\\u00", 4);
                o[4] = hex[p[i] >> 4];
                o[5] = hex[p[i] & 0xF];
                o += 6;
            } else {
                *o++ = (char) p[i];
            }
        }
        i++;
    }
    if (i < total) {
        memcpy(o, "...", 3);
        o += 3;
    }
    *o++ = '"';
    log->len = (size_t) (o - log->buf);
}

/* "" is "none" in a summary, and null in the line. */
static void
accesslog_put_str_or_null(fg_accesslog_t *log, const char *s)
{
    if (s == NULL || s[0] == '\0') {
        ACCESSLOG_PUT_LIT(log, "null");
    } else {
        accesslog_put_str(log, s);
    }
}

/* A decimal integer, without printf: most of a line is numbers. */
static void
accesslog_put_i64(fg_accesslog_t *log, int64_t v)
{
    char digits[FG_FMT_I64_MAX];

    accesslog_put(log, digits, fg_fmt_i64(digits, v));
}

/* A real as "%.6g" writes it, without printf. */
static void
accesslog_put_g6(fg_accesslog_t *log, double v)
{
    char digits[FG_FMT_G6_MAX];

    accesslog_put(log, digits, fg_fmt_g6(digits, v));
}

/* Microseconds as milliseconds with three decimals; null when negative. */
static void
accesslog_put_ms(fg_accesslog_t *log, int64_t us)
{
    char frac[4];

    if (us < 0) {
        ACCESSLOG_PUT_LIT(log, "null");
        return;
    }
    accesslog_put_i64(log, us / 1000);
    frac[0] = '.';
    frac[1] = (char) ('0' + us % 1000 / 100);
    frac[2] = (char) ('0' + us % 100 / 10);
    frac[3] = (char) ('0' + us % 10);
    accesslog_put(log, frac, 4);
}

/* A JSON boolean. */
static void
accesslog_put_bool(fg_accesslog_t *log, int v)
{
    if (v) {
        ACCESSLOG_PUT_LIT(log, "true");
    } else {
        ACCESSLOG_PUT_LIT(log, "false");
    }
}

/* RFC 3339, UTC, milliseconds: 2026-11-23T11:52:03.114Z. */
static void
accesslog_put_time(fg_accesslog_t *log, int64_t unix_ms)
{
    time_t    sec;
    struct tm tm;
    char      ms[6];
    int       frac;

    if (unix_ms < 0) {
        unix_ms = 0;
    }
    sec = (time_t) (unix_ms / 1000);
    if (sec != log->second) {
        /* The date and time of day change once a second: format them
         * then, not on every line. */
        gmtime_r(&sec, &tm);
        snprintf(log->second_text, sizeof(log->second_text),
                 "\"%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        log->second = sec;
    }
    accesslog_put(log, log->second_text, strlen(log->second_text));
    frac = (int) (unix_ms % 1000);
    ms[0] = '.';
    ms[1] = (char) ('0' + frac / 100);
    ms[2] = (char) ('0' + frac / 10 % 10);
    ms[3] = (char) ('0' + frac % 10);
    ms[4] = 'Z';
    ms[5] = '"';
    accesslog_put(log, ms, 6);
}

static int
accesslog_dump_cb(const char *buffer, size_t size, void *data)
{
    fg_accesslog_t *log = data;

    if (log->len - log->content_start + size > FG_ACCESSLOG_CONTENT_MAX
        || accesslog_reserve(log, size) != FG_OK) {
        return -1;   /* jansson stops the dump */
    }
    memcpy(log->buf + log->len, buffer, size);
    log->len += size;
    return 0;
}

/* Appends @json compactly; FG_ERR (and nothing appended) past the bound. */
static int
accesslog_put_json(fg_accesslog_t *log, const json_t *json)
{
    size_t mark = log->len;

    if (json == NULL) {
        ACCESSLOG_PUT_LIT(log, "null");
        return FG_OK;
    }
    if (json_dump_callback(json, accesslog_dump_cb, log,
                           JSON_COMPACT | JSON_ENCODE_ANY) != 0) {
        log->len = mark;
        ACCESSLOG_PUT_LIT(log, "null");
        return FG_ERR;
    }
    return FG_OK;
}

/* [choices[0].message, …] of a non-streaming reply; NULL if none. */
static json_t *
accesslog_reply_messages(const fg_request_summary_t *s)
{
    json_t *reply, *choices, *choice, *out;
    size_t  i;

    if (s->is_stream || s->reply_body == NULL || s->reply_len == 0) {
        return NULL;
    }
    reply = json_loadb(s->reply_body, s->reply_len, 0, NULL);
    choices = json_object_get(reply, "choices");
    if (!json_is_array(choices)) {
        json_decref(reply);
        return NULL;
    }
    out = json_array();
    json_array_foreach(choices, i, choice) {
        json_array_append(out, json_object_get(choice, "message"));
    }
    json_decref(reply);
    return out;
}

/* The request's messages, as the client sent them minus the white
 * space between tokens (which may hold newlines); "null" past the bound. */
static int
accesslog_put_messages(fg_accesslog_t *log, const fg_request_summary_t *s)
{
    size_t n = s->request_messages_len;

    if (s->request_messages == NULL || n == 0) {
        ACCESSLOG_PUT_LIT(log, "null");
        return FG_OK;
    }
    if (log->len - log->content_start + n > FG_ACCESSLOG_CONTENT_MAX
        || accesslog_reserve(log, n) != FG_OK) {
        ACCESSLOG_PUT_LIT(log, "null");
        return FG_ERR;
    }
    log->len += fg_json_compact(s->request_messages, n, log->buf + log->len);
    return FG_OK;
}

static void
accesslog_put_content(fg_accesslog_t *log, const fg_request_summary_t *s)
{
    json_t       *reply;
    int           is_cut = 0;

    log->content_start = log->len;
    ACCESSLOG_PUT_LIT(log, ",\"messages\":");
    if (accesslog_put_messages(log, s) != FG_OK) {
        is_cut = 1;
    }
    ACCESSLOG_PUT_LIT(log, ",\"reply\":");
    reply = accesslog_reply_messages(s);
    if (accesslog_put_json(log, reply) != FG_OK) {
        is_cut = 1;
    }
    json_decref(reply);
    if (is_cut) {
        ACCESSLOG_PUT_LIT(log, ",\"content_truncated\":true");
    }
}

void
fg_accesslog_flush(fg_accesslog_t *log)
{
    ssize_t n;

    if (log->len == 0) {
        return;
    }
    /* One write of whole lines: O_APPEND lands them after every other
     * worker's, never interleaved with one. */
    do {
        n = write(log->fd, log->buf, log->len);
    } while (n < 0 && errno == EINTR);
    if (n < 0 || (size_t) n != log->len) {
        log->failures += log->lines_pending;
    }
    log->len = 0;
    log->line_start = 0;
    log->lines_pending = 0;
    if (log->cap > 4 * FG_ACCESSLOG_BUFFER_BYTES) {
        /* A line with a large content: give the memory back. */
        free(log->buf);
        log->buf = NULL;
        log->cap = 0;
    }
}

size_t
fg_accesslog_pending(const fg_accesslog_t *log)
{
    return log->len;
}

void
fg_accesslog_write(fg_accesslog_t *log, const fg_request_summary_t *s)
{
    log->line_start = log->len;
    ACCESSLOG_PUT_LIT(log, "{\"time\":");
    accesslog_put_time(log, s->started_unix_ms);
    ACCESSLOG_PUT_LIT(log, ",\"request_id\":");
    accesslog_put_str_or_null(log, s->request_id);
    ACCESSLOG_PUT_LIT(log, ",\"client_request_id\":");
    accesslog_put_str_or_null(log, s->client_request_id);
    ACCESSLOG_PUT_LIT(log, ",\"key_id\":");
    accesslog_put_str_or_null(log, s->key_id);
    ACCESSLOG_PUT_LIT(log, ",\"model_requested\":");
    accesslog_put_str_or_null(log, s->model_requested);
    ACCESSLOG_PUT_LIT(log, ",\"model_served\":");
    accesslog_put_str_or_null(log, s->model_served);
    ACCESSLOG_PUT_LIT(log, ",\"provider\":");
    accesslog_put_str_or_null(log, s->provider);
    ACCESSLOG_PUT_LIT(log, ",\"status\":");
    accesslog_put_i64(log, s->status);
    ACCESSLOG_PUT_LIT(log, ",\"error\":");
    accesslog_put_str_or_null(log, s->error == FG_E_NONE
                              ? NULL : fg_error_code_str(s->error));
    if (s->has_usage) {
        ACCESSLOG_PUT_LIT(log, ",\"prompt_tokens\":");
        accesslog_put_i64(log, s->prompt_tokens);
        ACCESSLOG_PUT_LIT(log, ",\"completion_tokens\":");
        accesslog_put_i64(log, s->completion_tokens);
        ACCESSLOG_PUT_LIT(log, ",\"reasoning_tokens\":");
        accesslog_put_i64(log, s->reasoning_tokens);
        ACCESSLOG_PUT_LIT(log, ",\"cached_tokens\":");
        accesslog_put_i64(log, s->cached_tokens);
    } else {
        ACCESSLOG_PUT_LIT(log, ",\"prompt_tokens\":null"
                          ",\"completion_tokens\":null"
                          ",\"reasoning_tokens\":null,\"cached_tokens\":null");
    }
    ACCESSLOG_PUT_LIT(log, ",\"usage_estimated\":");
    accesslog_put_bool(log, s->usage_estimated);
    ACCESSLOG_PUT_LIT(log, ",\"charged_micro\":");
    accesslog_put_i64(log, s->charged_micro);
    if (s->has_impact) {
        ACCESSLOG_PUT_LIT(log, ",\"energy_kwh\":");
        accesslog_put_g6(log, s->energy_kwh);
        ACCESSLOG_PUT_LIT(log, ",\"carbon_g_co2\":");
        accesslog_put_g6(log, s->carbon_g_co2);
        ACCESSLOG_PUT_LIT(log, ",\"water_liters\":");
        accesslog_put_g6(log, s->water_liters);
        ACCESSLOG_PUT_LIT(log, ",\"impact_estimated\":");
        accesslog_put_bool(log, s->impact_estimated);
    } else {
        ACCESSLOG_PUT_LIT(log, ",\"energy_kwh\":null,\"carbon_g_co2\":null"
                          ",\"water_liters\":null,\"impact_estimated\":null");
    }
    ACCESSLOG_PUT_LIT(log, ",\"latency_ms\":");
    accesslog_put_ms(log, s->latency_us);
    ACCESSLOG_PUT_LIT(log, ",\"ttfb_ms\":");
    accesslog_put_ms(log, s->ttfb_us);
    ACCESSLOG_PUT_LIT(log, ",\"bytes_in\":");
    accesslog_put_i64(log, s->bytes_in);
    ACCESSLOG_PUT_LIT(log, ",\"bytes_out\":");
    accesslog_put_i64(log, s->bytes_out);
    ACCESSLOG_PUT_LIT(log, ",\"client\":");
    accesslog_put_str_or_null(log, s->client_addr);
    ACCESSLOG_PUT_LIT(log, ",\"stream\":");
    accesslog_put_bool(log, s->is_stream);
    ACCESSLOG_PUT_LIT(log, ",\"client_gone\":");
    accesslog_put_bool(log, s->is_client_gone);
    ACCESSLOG_PUT_LIT(log, ",\"limit\":");
    accesslog_put_str_or_null(log, fg_limit_kind_name(s->limit));
    ACCESSLOG_PUT_LIT(log, ",\"upstream_error\":");
    accesslog_put_str_or_null(log, fg_upstream_kind_name(s->upstream));
    ACCESSLOG_PUT_LIT(log, ",\"upstream_outcome\":");
    accesslog_put_str_or_null(log, s->upstream_outcome == FG_ATTEMPT_NONE
                              ? NULL
                              : fg_attempt_outcome_name(s->upstream_outcome));
    ACCESSLOG_PUT_LIT(log, ",\"upstream_status\":");
    if (s->upstream_status > 0) {
        accesslog_put_i64(log, s->upstream_status);
    } else {
        ACCESSLOG_PUT_LIT(log, "null");
    }
    if (log->with_content) {
        accesslog_put_content(log, s);
    }
    ACCESSLOG_PUT_LIT(log, "}\n");
    log->line_start = log->len;
    log->lines_pending++;
    if (log->len >= FG_ACCESSLOG_BUFFER_BYTES) {
        fg_accesslog_flush(log);
    }
}
