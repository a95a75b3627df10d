/*
 * test_accesslog.c: the access log's lines, escaping, content switch,
 * reopen, and the configuration check.
 */

#include "common/store/accesslog.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/fg_test.h"

static char test_dir[] = "/tmp/fg-test-accesslog-XXXXXX";

/* A summary of a plain, successful, non-streaming request. */
static fg_request_summary_t
summary_ok(void)
{
    fg_request_summary_t s;

    memset(&s, 0, sizeof(s));
    s.request_id = "req_0123456789abcdef";
    s.client_request_id = "client-42";
    s.key_id = "key_4f3a9c";
    s.model_requested = "demo-chat";
    s.model_served = "demo-chat";
    s.provider = "demo";
    s.client_addr = "127.0.0.1";
    s.status = 200;
    s.error = FG_E_NONE;
    s.has_usage = 1;
    s.prompt_tokens = 12;
    s.completion_tokens = 34;
    s.reasoning_tokens = 5;
    s.cached_tokens = 6;
    s.latency_us = 12345;
    s.ttfb_us = 1002;
    s.bytes_in = 321;
    s.bytes_out = 654;
    s.upstream_outcome = FG_ATTEMPT_STATUS;
    s.upstream_status = 200;
    s.started_unix_ms = 1735689600123LL;   /* 2025-01-01T00:00:00.123Z */
    return s;
}

static char *
path_in_dir(const char *name)
{
    static char path[256];

    snprintf(path, sizeof(path), "%s/%s", test_dir, name);
    return path;
}

/* The whole file, NUL-terminated (owned), or NULL. */
static char *
slurp(const char *path)
{
    FILE  *f = fopen(path, "rb");
    char  *buf;
    long   n;

    if (f == NULL) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t) n + 1);
    if (fread(buf, 1, (size_t) n, f) != (size_t) n) {
        n = 0;
    }
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static size_t
count_lines(const char *text)
{
    size_t n = 0;

    for (; *text; text++) {
        n += *text == '\n';
    }
    return n;
}

/* Writes @s to a fresh log at @name and returns the file's text (owned). */
static char *
write_one(const char *name, int with_content, const fg_request_summary_t *s)
{
    fg_accesslog_t *log;
    fg_err_t        err;
    const char     *path = path_in_dir(name);

    unlink(path);
    log = fg_accesslog_open(path, with_content, &err);
    expect_true(log != NULL);
    if (log == NULL) {
        return NULL;
    }
    fg_accesslog_write(log, s);
    expect_int_eq(fg_accesslog_failures(log), 0);
    fg_accesslog_close(log);
    return slurp(path);
}

/* The one line of @text parsed, or NULL (owned). */
static json_t *
parse_line(const char *text)
{
    json_error_t jerr;
    json_t      *j;

    if (text == NULL) {
        return NULL;
    }
    expect_int_eq(count_lines(text), 1);
    expect_true(text[strlen(text) - 1] == '\n');
    j = json_loads(text, 0, &jerr);
    if (j == NULL) {
        FG_TEST_FAIL("not JSON (%s): %s", jerr.text, text);
    }
    return j;
}

static const char *
str_of(const json_t *j, const char *key)
{
    return json_string_value(json_object_get(j, key));
}

static long long
int_of(const json_t *j, const char *key)
{
    return (long long) json_integer_value(json_object_get(j, key));
}

static void
line_is_one_json_object_with_every_field(void)
{
    fg_request_summary_t s = summary_ok();
    static const char   *fields[] = {
        "time", "request_id", "client_request_id", "key_id", "model_requested", "model_served",
        "provider", "status", "error", "prompt_tokens", "completion_tokens",
        "reasoning_tokens", "cached_tokens", "usage_estimated",
        "charged_micro", "energy_kwh", "carbon_g_co2", "water_liters",
        "impact_estimated", "latency_ms", "ttfb_ms",
        "bytes_in", "bytes_out", "client", "stream", "client_gone", "limit",
        "upstream_error", "upstream_outcome", "upstream_status",
    };
    char   *text = write_one("every.log", 0, &s);
    json_t *j = parse_line(text);
    size_t  i;

    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (json_object_get(j, fields[i]) == NULL) {
            FG_TEST_FAIL("field \"%s\" missing: %s", fields[i], text);
        }
    }
    expect_int_eq(json_object_size(j), sizeof(fields) / sizeof(fields[0]));
    expect_str_eq(str_of(j, "time"), "2025-01-01T00:00:00.123Z");
    expect_str_eq(str_of(j, "request_id"), "req_0123456789abcdef");
    expect_str_eq(str_of(j, "client_request_id"), "client-42");
    expect_str_eq(str_of(j, "key_id"), "key_4f3a9c");
    expect_str_eq(str_of(j, "model_requested"), "demo-chat");
    expect_str_eq(str_of(j, "model_served"), "demo-chat");
    expect_str_eq(str_of(j, "provider"), "demo");
    expect_int_eq(int_of(j, "status"), 200);
    expect_true(json_is_null(json_object_get(j, "error")));
    expect_int_eq(int_of(j, "prompt_tokens"), 12);
    expect_int_eq(int_of(j, "completion_tokens"), 34);
    expect_int_eq(int_of(j, "reasoning_tokens"), 5);
    expect_int_eq(int_of(j, "cached_tokens"), 6);
    expect_int_eq(int_of(j, "bytes_in"), 321);
    expect_int_eq(int_of(j, "bytes_out"), 654);
    expect_str_eq(str_of(j, "client"), "127.0.0.1");
    expect_true(json_is_false(json_object_get(j, "stream")));
    expect_true(json_is_false(json_object_get(j, "client_gone")));
    expect_true(json_is_null(json_object_get(j, "limit")));
    expect_true(json_is_null(json_object_get(j, "upstream_error")));
    expect_str_eq(str_of(j, "upstream_outcome"), "status");
    expect_int_eq(int_of(j, "upstream_status"), 200);
    /* Milliseconds with exactly three decimals, as written. */
    expect_true(text != NULL && strstr(text, "\"latency_ms\":12.345,"));
    expect_true(text != NULL && strstr(text, "\"ttfb_ms\":1.002,"));
    json_decref(j);
    free(text);
}

static void
an_attempt_that_got_no_reply_names_its_outcome_and_has_no_status(void)
{
    fg_request_summary_t s = summary_ok();
    char                *text;
    json_t              *j;

    s.status = 502;
    s.error = FG_E_PROVIDER_ERROR;
    s.upstream = FG_UPSTREAM_RESET;
    s.upstream_outcome = FG_ATTEMPT_SENT_NO_REPLY;
    s.upstream_status = 0;
    text = write_one("noreply.log", 0, &s);
    j = parse_line(text);
    expect_str_eq(str_of(j, "upstream_outcome"), "sent_no_reply");
    expect_true(json_is_null(json_object_get(j, "upstream_status")));
    json_decref(j);
    free(text);
}

static void
failures_are_named_and_missing_facts_are_null(void)
{
    fg_request_summary_t s = summary_ok();
    char                *text;
    json_t              *j;

    s.key_id = "";
    s.model_served = "";
    s.provider = "";
    s.client_addr = "";
    s.status = 429;
    s.error = FG_E_RATE_LIMIT_CONCURRENCY;
    s.limit = FG_LIMIT_CONCURRENCY;
    s.upstream = FG_UPSTREAM_5XX;
    s.upstream_outcome = FG_ATTEMPT_NONE;   /* refused before any attempt */
    s.upstream_status = 0;
    s.has_usage = 0;
    s.ttfb_us = -1;
    s.is_stream = 1;
    s.is_client_gone = 1;
    text = write_one("fail.log", 0, &s);
    j = parse_line(text);
    expect_true(json_is_null(json_object_get(j, "key_id")));
    expect_true(json_is_null(json_object_get(j, "model_served")));
    expect_true(json_is_null(json_object_get(j, "provider")));
    expect_true(json_is_null(json_object_get(j, "client")));
    expect_int_eq(int_of(j, "status"), 429);
    expect_str_eq(str_of(j, "error"), "rate_limit_concurrency");
    expect_str_eq(str_of(j, "limit"), "concurrency");
    expect_str_eq(str_of(j, "upstream_error"), "5xx");
    expect_true(json_is_null(json_object_get(j, "prompt_tokens")));
    expect_true(json_is_null(json_object_get(j, "completion_tokens")));
    expect_true(json_is_null(json_object_get(j, "ttfb_ms")));
    expect_true(json_is_true(json_object_get(j, "stream")));
    expect_true(json_is_true(json_object_get(j, "client_gone")));
    expect_true(json_is_null(json_object_get(j, "upstream_outcome")));
    expect_true(json_is_null(json_object_get(j, "upstream_status")));
    json_decref(j);
    free(text);
}

static void
quotes_newlines_and_bytes_that_are_not_utf8_are_escaped(void)
{
    fg_request_summary_t s = summary_ok();
    char                *text;
    json_t              *j;

    /* quote, backslash, newline, CR, tab, 0x01, an invalid byte, a lone
     * continuation byte, an overlong "/", a surrogate, then é and 😀. */
    s.model_requested = "a\"b\\c\nd\re\tf\x01g\xffh\x80i\xc0\xafj\xed\xa0\x80"
                        "k\xc3\xa9\xf0\x9f\x98\x80";
    s.request_id = "}\n{\"status\":999";
    text = write_one("escape.log", 0, &s);
    j = parse_line(text);
    expect_str_eq(str_of(j, "model_requested"),
                  "a\"b\\c\nd\re\tf\x01g\xef\xbf\xbdh\xef\xbf\xbdi"
                  "\xef\xbf\xbd\xef\xbf\xbdj\xef\xbf\xbd\xef\xbf\xbd"
                  "\xef\xbf\xbdk\xc3\xa9\xf0\x9f\x98\x80");
    expect_str_eq(str_of(j, "request_id"), "}\n{\"status\":999");
    expect_int_eq(int_of(j, "status"), 200);
    json_decref(j);
    free(text);
}

static void
a_long_field_is_cut_whole_characters_first(void)
{
    fg_request_summary_t s = summary_ok();
    char                 model[FG_ACCESSLOG_FIELD_MAX + 100];
    char                *text;
    json_t              *j;
    const char          *got;
    size_t               i;

    /* "x" then two-byte "é"s, so that the limit falls inside one. */
    model[0] = 'x';
    for (i = 1; i + 2 < sizeof(model); i += 2) {
        model[i] = '\xc3';
        model[i + 1] = '\xa9';
    }
    model[sizeof(model) - 1] = '\0';
    s.model_requested = model;
    text = write_one("long.log", 0, &s);
    j = parse_line(text);
    got = str_of(j, "model_requested");
    expect_true(got != NULL);
    if (got != NULL) {
        /* 1 + 255 * 2 = 511 bytes kept, then "..." */
        expect_int_eq(strlen(got), FG_ACCESSLOG_FIELD_MAX - 1 + 3);
        expect_true(strcmp(got + strlen(got) - 3, "...") == 0);
        expect_true(strstr(got, "\xef\xbf\xbd") == NULL);
    }
    json_decref(j);
    free(text);
}

static void
a_secret_looking_model_name_is_just_data_beside_the_key_id(void)
{
    fg_request_summary_t s = summary_ok();
    char                *text;
    json_t              *j;

    s.model_requested = "fg-sk_live_9f8e7d6c5b4a39281706f5e4d3c2b1a0";
    text = write_one("secret.log", 0, &s);
    j = parse_line(text);
    expect_str_eq(str_of(j, "key_id"), "key_4f3a9c");
    expect_str_eq(str_of(j, "model_requested"),
                  "fg-sk_live_9f8e7d6c5b4a39281706f5e4d3c2b1a0");
    expect_int_eq(json_object_size(j), 30);
    json_decref(j);
    free(text);
}

/*
 * Sets @s's request messages to the "messages" of @req as a client might
 * send them: indented over several lines (the log must compact them).
 * The text stays valid until the next call.
 */
static char *test_messages;

static void
use_messages(fg_request_summary_t *s, json_t *req)
{
    free(test_messages);
    test_messages = json_dumps(json_object_get(req, "messages"),
                               JSON_INDENT(2));
    s->request_messages = test_messages;
    s->request_messages_len = strlen(test_messages);
}

static const char reply_body[] =
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"choices\":["
    "{\"index\":0,\"message\":{\"role\":\"assistant\","
    "\"content\":\"the secret reply\"},\"finish_reason\":\"stop\"}]}";

static void
content_is_absent_unless_enabled(void)
{
    fg_request_summary_t s = summary_ok();
    json_t              *req, *j, *reply;
    char                *text;

    req = json_loads("{\"model\":\"demo-chat\",\"messages\":[{\"role\":"
                     "\"user\",\"content\":\"the secret prompt\\n\\\"x\\\"\"}]}",
                     0, NULL);
    use_messages(&s, req);
    s.reply_body = reply_body;
    s.reply_len = sizeof(reply_body) - 1;

    text = write_one("nocontent.log", 0, &s);
    j = parse_line(text);
    expect_true(json_object_get(j, "messages") == NULL);
    expect_true(json_object_get(j, "reply") == NULL);
    expect_true(text != NULL && strstr(text, "secret prompt") == NULL);
    expect_true(text != NULL && strstr(text, "secret reply") == NULL);
    json_decref(j);
    free(text);

    text = write_one("content.log", 1, &s);
    j = parse_line(text);
    expect_true(json_equal(json_object_get(j, "messages"),
                           json_object_get(req, "messages")));
    reply = json_object_get(j, "reply");
    expect_true(json_is_array(reply));
    expect_str_eq(str_of(json_array_get(reply, 0), "content"),
                  "the secret reply");
    expect_str_eq(str_of(json_array_get(reply, 0), "role"), "assistant");
    expect_true(json_object_get(j, "content_truncated") == NULL);
    json_decref(j);
    free(text);

    /* A stream's reply text is not kept: the request's messages only. */
    s.is_stream = 1;
    text = write_one("stream.log", 1, &s);
    j = parse_line(text);
    expect_true(json_is_array(json_object_get(j, "messages")));
    expect_true(json_is_null(json_object_get(j, "reply")));
    json_decref(j);
    free(text);
    json_decref(req);
}

static void
content_past_the_bound_is_left_out_and_said_so(void)
{
    fg_request_summary_t s = summary_ok();
    size_t               n = FG_ACCESSLOG_CONTENT_MAX + 10;
    char                *big = malloc(n + 1);
    json_t              *req, *j;
    char                *text;

    memset(big, 'a', n);
    big[n] = '\0';
    req = json_pack("{s:[{s:s,s:s}]}", "messages", "role", "user",
                    "content", big);
    use_messages(&s, req);
    s.reply_body = reply_body;
    s.reply_len = sizeof(reply_body) - 1;
    text = write_one("big.log", 1, &s);
    j = parse_line(text);
    expect_true(json_is_null(json_object_get(j, "messages")));
    expect_true(json_is_array(json_object_get(j, "reply")));
    expect_true(json_is_true(json_object_get(j, "content_truncated")));
    expect_true(text != NULL && strlen(text) < 64 * 1024);
    json_decref(j);
    free(text);
    json_decref(req);
    free(big);
}

static void
reopen_after_rename_writes_to_a_new_file(void)
{
    fg_request_summary_t s = summary_ok();
    char                 old_path[300], *text;
    const char          *path = path_in_dir("rotate.log");
    fg_accesslog_t      *log;
    fg_err_t             err;

    unlink(path);
    snprintf(old_path, sizeof(old_path), "%s.1", path);
    log = fg_accesslog_open(path, 0, &err);
    expect_true(log != NULL);
    if (log == NULL) {
        return;
    }
    fg_accesslog_write(log, &s);
    fg_accesslog_write(log, &s);
    expect_int_eq(rename(path, old_path), 0);
    fg_accesslog_write(log, &s);            /* still the old file */
    expect_int_eq(fg_accesslog_reopen(log, &err), FG_OK);
    fg_accesslog_write(log, &s);
    fg_accesslog_close(log);

    text = slurp(old_path);
    expect_int_eq(text ? count_lines(text) : 0, 3);
    free(text);
    text = slurp(path);
    expect_int_eq(text ? count_lines(text) : 0, 1);
    free(text);
}

static void
a_failed_reopen_keeps_the_old_file(void)
{
    fg_request_summary_t s = summary_ok();
    char                 sub[256], path[300], *text;
    fg_accesslog_t      *log;
    fg_err_t             err;

    snprintf(sub, sizeof(sub), "%s/gone", test_dir);
    mkdir(sub, 0700);
    snprintf(path, sizeof(path), "%s/a.log", sub);
    log = fg_accesslog_open(path, 0, &err);
    expect_true(log != NULL);
    if (log == NULL) {
        return;
    }
    unlink(path);
    rmdir(sub);
    expect_int_eq(fg_accesslog_reopen(log, &err), FG_ERR);
    expect_true(strstr(err.msg, path) != NULL);
    /* The old (now unlinked) file is still written without failure. */
    fg_accesslog_write(log, &s);
    expect_int_eq(fg_accesslog_failures(log), 0);
    fg_accesslog_close(log);
    text = slurp(path);
    expect_true(text == NULL);
    free(text);
}

static void
a_failed_write_is_counted_not_fatal(void)
{
    fg_request_summary_t s = summary_ok();
    fg_accesslog_t      *log;
    fg_err_t             err;

    log = fg_accesslog_open("/dev/full", 0, &err);
    expect_true(log != NULL);
    if (log == NULL) {
        return;
    }
    fg_accesslog_write(log, &s);
    fg_accesslog_write(log, &s);
    /* Both lines wait in memory, then go out in one failing write. */
    expect_int_eq(fg_accesslog_pending(log) > 0, 1);
    fg_accesslog_flush(log);
    expect_int_eq(fg_accesslog_failures(log), 2);
    expect_int_eq(fg_accesslog_pending(log), 0);
    fg_accesslog_close(log);
}

static void
lines_wait_for_a_flush_and_go_out_whole_and_in_order(void)
{
    fg_request_summary_t s = summary_ok();
    char                 path[512];
    fg_accesslog_t      *log;
    char                *text;

    snprintf(path, sizeof(path), "%s/buffered.log", test_dir);
    unlink(path);
    log = fg_accesslog_open(path, 0, NULL);
    expect_true(log != NULL);
    if (log == NULL) {
        return;
    }
    s.request_id = "first";
    fg_accesslog_write(log, &s);
    s.request_id = "second";
    fg_accesslog_write(log, &s);
    text = slurp(path);
    expect_true(text == NULL || text[0] == '\0');
    free(text);
    fg_accesslog_flush(log);
    text = slurp(path);
    expect_true(text != NULL && strstr(text, "\"first\"") != NULL
                && strstr(text, "\"second\"") > strstr(text, "\"first\""));
    expect_true(text != NULL && text[strlen(text) - 1] == '\n');
    free(text);
    fg_accesslog_close(log);
}

static void
a_full_buffer_is_written_without_waiting(void)
{
    fg_request_summary_t s = summary_ok();
    char                 path[512];
    fg_accesslog_t      *log;
    int                  i;

    snprintf(path, sizeof(path), "%s/full.log", test_dir);
    unlink(path);
    log = fg_accesslog_open(path, 0, NULL);
    expect_true(log != NULL);
    if (log == NULL) {
        return;
    }
    for (i = 0; i < 1000; i++) {
        fg_accesslog_write(log, &s);
        expect_true(fg_accesslog_pending(log) < FG_ACCESSLOG_BUFFER_BYTES);
    }
    fg_accesslog_close(log);
}

static void
opening_a_path_in_a_missing_folder_fails_with_the_reason(void)
{
    fg_err_t err;

    expect_true(fg_accesslog_open("/nonexistent-fg/a.log", 0, &err) == NULL);
    expect_true(strstr(err.msg, "/nonexistent-fg/a.log") != NULL);
    expect_true(strstr(err.msg, "No such file") != NULL);
}

static void
check_accepts_off_stderr_and_writable_paths_only(void)
{
    fg_err_t err;

    expect_int_eq(fg_accesslog_check("off", &err), FG_OK);
    expect_int_eq(fg_accesslog_check("stderr", &err), FG_OK);
    expect_int_eq(fg_accesslog_check(path_in_dir("new.log"), &err), FG_OK);
    expect_int_eq(fg_accesslog_check("relative.log", &err), FG_OK);
    expect_int_eq(fg_accesslog_check("/nonexistent-fg/a.log", &err), FG_ERR);
    expect_true(strstr(err.msg, "/nonexistent-fg") != NULL);
    expect_int_eq(fg_accesslog_check(test_dir, &err), FG_ERR);
    expect_true(strstr(err.msg, "is a folder") != NULL);
    expect_int_eq(fg_accesslog_check("", &err), FG_ERR);
    /* Checking creates nothing. */
    expect_true(access(path_in_dir("new.log"), F_OK) != 0);
}

/*
 * Several processes appending large lines to one file at once: every line
 * comes out whole (O_APPEND, one write each).
 */
static void
lines_from_several_processes_never_interleave(void)
{
    enum { PROCS = 4, LINES = 50 };
    const char *path = path_in_dir("shared.log");
    char       *text, *line, *save = NULL;
    size_t      count = 0, good = 0;
    int         p, status;

    unlink(path);
    for (p = 0; p < PROCS; p++) {
        if (fork() == 0) {
            fg_request_summary_t s = summary_ok();
            fg_accesslog_t      *log = fg_accesslog_open(path, 1, NULL);
            char                *big = malloc(20000);
            json_t              *req;
            int                  i;

            memset(big, 'a' + p, 19999);
            big[19999] = '\0';
            req = json_pack("{s:[{s:s,s:s}]}", "messages", "role", "user",
                            "content", big);
            use_messages(&s, req);
            for (i = 0; log != NULL && i < LINES; i++) {
                fg_accesslog_write(log, &s);
            }
            fg_accesslog_close(log);
            json_decref(req);
            free(big);
            _exit(0);
        }
    }
    for (p = 0; p < PROCS; p++) {
        wait(&status);
    }
    text = slurp(path);
    for (line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        json_t *j = json_loads(line, 0, NULL);

        count++;
        good += j != NULL;
        json_decref(j);
    }
    expect_int_eq(count, PROCS * LINES);
    expect_int_eq(good, PROCS * LINES);
    free(text);
}

static void
setup(void)
{
    if (mkdtemp(test_dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
}

static void
cleanup(void)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", test_dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", test_dir);
    }
}

int
main(void)
{
    static const fg_test_case_t cases[] = {
        FG_TEST_CASE(line_is_one_json_object_with_every_field),
        FG_TEST_CASE(failures_are_named_and_missing_facts_are_null),
        FG_TEST_CASE(an_attempt_that_got_no_reply_names_its_outcome_and_has_no_status),
        FG_TEST_CASE(quotes_newlines_and_bytes_that_are_not_utf8_are_escaped),
        FG_TEST_CASE(a_long_field_is_cut_whole_characters_first),
        FG_TEST_CASE(a_secret_looking_model_name_is_just_data_beside_the_key_id),
        FG_TEST_CASE(content_is_absent_unless_enabled),
        FG_TEST_CASE(content_past_the_bound_is_left_out_and_said_so),
        FG_TEST_CASE(reopen_after_rename_writes_to_a_new_file),
        FG_TEST_CASE(a_failed_reopen_keeps_the_old_file),
        FG_TEST_CASE(a_failed_write_is_counted_not_fatal),
        FG_TEST_CASE(lines_wait_for_a_flush_and_go_out_whole_and_in_order),
        FG_TEST_CASE(a_full_buffer_is_written_without_waiting),
        FG_TEST_CASE(opening_a_path_in_a_missing_folder_fails_with_the_reason),
        FG_TEST_CASE(check_accepts_off_stderr_and_writable_paths_only),
        FG_TEST_CASE(lines_from_several_processes_never_interleave),
    };
    int rc;

    setup();
    rc = fg_test_run("accesslog", cases, sizeof(cases) / sizeof(cases[0]));
    cleanup();
    return rc;
}
