/*
 * test_redisurl.c: the `cluster.redis` setting (common/cluster/redisurl):
 * the three forms, their bounds, and error messages that name the fault
 * without ever quoting the password.
 */

#include "common/cluster/redisurl.h"

#include <stdio.h>
#include <string.h>

#include "tests/unit/fg_test.h"

#define SECRET "Zq7-secret-Pw"

static int
parse(const char *text, fg_redisurl_t *url, fg_err_t *err)
{
    memset(err, 0, sizeof(*err));
    return fg_redisurl_parse(text, url, err);
}

/* Parses @text expecting an error whose message contains @part. */
static void
expect_refused(const char *text, const char *part)
{
    fg_redisurl_t url;
    fg_err_t      err;

    if (parse(text, &url, &err) != FG_ERR) {
        FG_TEST_FAIL("accepted \"%s\"", text);
        return;
    }
    if (strstr(err.msg, part) == NULL) {
        FG_TEST_FAIL("\"%s\": message \"%s\" lacks \"%s\"", text, err.msg,
                     part);
    }
    if (strstr(err.msg, SECRET) != NULL) {
        FG_TEST_FAIL("\"%s\": message \"%s\" quotes the password", text,
                     err.msg);
    }
    expect_int_eq(err.code, FG_E_INVALID_VALUE);
    expect_str_eq(url.password, "");
}

static void
redisurl_reads_host_port_and_db(void)
{
    fg_redisurl_t url;
    fg_err_t      err;

    expect_int_eq(parse("redis://10.0.0.5:6380/3", &url, &err), FG_OK);
    expect_int_eq(url.is_unix, 0);
    expect_str_eq(url.host, "10.0.0.5");
    expect_int_eq(url.port, 6380);
    expect_int_eq(url.db, 3);
    expect_str_eq(url.user, "");
    expect_str_eq(url.password, "");
}

static void
redisurl_defaults_port_6379_and_db_0(void)
{
    fg_redisurl_t url;
    fg_err_t      err;

    expect_int_eq(parse("redis://redis.internal", &url, &err), FG_OK);
    expect_str_eq(url.host, "redis.internal");
    expect_int_eq(url.port, 6379);
    expect_int_eq(url.db, 0);
    expect_int_eq(parse("REDIS://h:1/", &url, &err), FG_OK);
    expect_int_eq(url.port, 1);
    expect_int_eq(url.db, 0);
}

static void
redisurl_reads_a_password_for_the_default_user(void)
{
    fg_redisurl_t url;
    fg_err_t      err;

    expect_int_eq(parse("redis://:" SECRET "@127.0.0.1:6379/0", &url, &err),
                  FG_OK);
    expect_str_eq(url.user, "");
    expect_str_eq(url.password, SECRET);
    expect_str_eq(url.host, "127.0.0.1");
}

static void
redisurl_reads_an_acl_user_and_password(void)
{
    fg_redisurl_t url;
    fg_err_t      err;

    expect_int_eq(parse("redis://syncer:" SECRET "@h:7000/15", &url, &err),
                  FG_OK);
    expect_str_eq(url.user, "syncer");
    expect_str_eq(url.password, SECRET);
    expect_int_eq(url.db, 15);
}

static void
redisurl_percent_decodes_user_and_password(void)
{
    fg_redisurl_t url;
    fg_err_t      err;

    expect_int_eq(parse("redis://a%40b:p%2Fw%3A%40%25x@h", &url, &err),
                  FG_OK);
    expect_str_eq(url.user, "a@b");
    expect_str_eq(url.password, "p/w:@%x");
    /* A raw ':' or '@' in the password is unambiguous: the user ends at
     * the first ':', the user information at the last '@'. */
    expect_int_eq(parse("redis://:a:b@c@h", &url, &err), FG_OK);
    expect_str_eq(url.password, "a:b@c");
    expect_str_eq(url.host, "h");
}

static void
redisurl_reads_a_bracketed_ipv6_address(void)
{
    fg_redisurl_t url;
    fg_err_t      err;

    expect_int_eq(parse("redis://[::1]:6390/2", &url, &err), FG_OK);
    expect_str_eq(url.host, "::1");
    expect_int_eq(url.port, 6390);
    expect_int_eq(url.db, 2);
    expect_int_eq(parse("redis://[fe80::1:2]", &url, &err), FG_OK);
    expect_int_eq(url.port, 6379);
}

static void
redisurl_reads_a_plain_socket_path(void)
{
    fg_redisurl_t url;
    fg_err_t      err;

    expect_int_eq(parse("/run/redis/redis.sock", &url, &err), FG_OK);
    expect_int_eq(url.is_unix, 1);
    expect_str_eq(url.path, "/run/redis/redis.sock");
    expect_int_eq(url.db, 0);
    expect_str_eq(url.password, "");
}

static void
redisurl_reads_a_unix_url_with_db_user_and_password(void)
{
    fg_redisurl_t url;
    fg_err_t      err;

    expect_int_eq(parse("unix:///tmp/r.sock", &url, &err), FG_OK);
    expect_int_eq(url.is_unix, 1);
    expect_str_eq(url.path, "/tmp/r.sock");
    expect_int_eq(parse("unix:///tmp/r.sock?db=4&user=syncer&password="
                        SECRET "%2B%26", &url, &err), FG_OK);
    expect_str_eq(url.path, "/tmp/r.sock");
    expect_int_eq(url.db, 4);
    expect_str_eq(url.user, "syncer");
    expect_str_eq(url.password, SECRET "+&");
}

static void
redisurl_accepts_the_bounds(void)
{
    fg_redisurl_t url;
    fg_err_t      err;
    char          text[2048], pw[FG_REDISURL_PASSWORD_MAX + 1];
    char          host[FG_REDISURL_HOST_MAX + 1];
    char          path[FG_REDISURL_PATH_MAX + 1];

    memset(pw, 'p', FG_REDISURL_PASSWORD_MAX);
    pw[FG_REDISURL_PASSWORD_MAX] = '\0';
    memset(host, 'h', FG_REDISURL_HOST_MAX);
    host[FG_REDISURL_HOST_MAX] = '\0';
    snprintf(text, sizeof(text), "redis://:%s@%s:65535/1048575", pw, host);
    expect_int_eq(parse(text, &url, &err), FG_OK);
    expect_int_eq(strlen(url.password), FG_REDISURL_PASSWORD_MAX);
    expect_int_eq(strlen(url.host), FG_REDISURL_HOST_MAX);
    expect_int_eq(url.port, 65535);
    expect_int_eq(url.db, FG_REDISURL_DB_MAX);
    path[0] = '/';
    memset(path + 1, 's', FG_REDISURL_PATH_MAX - 1);
    path[FG_REDISURL_PATH_MAX] = '\0';
    expect_int_eq(parse(path, &url, &err), FG_OK);
    expect_int_eq(strlen(url.path), FG_REDISURL_PATH_MAX);
}

static void
redisurl_refuses_what_passes_the_bounds(void)
{
    char text[4200], pw[FG_REDISURL_PASSWORD_MAX + 2];
    char host[FG_REDISURL_HOST_MAX + 2];
    char path[FG_REDISURL_PATH_MAX + 2];

    memset(pw, 'p', FG_REDISURL_PASSWORD_MAX + 1);
    pw[FG_REDISURL_PASSWORD_MAX + 1] = '\0';
    snprintf(text, sizeof(text), "redis://:%s@h", pw);
    expect_refused(text, "password longer than 512 bytes");
    memset(host, 'h', FG_REDISURL_HOST_MAX + 1);
    host[FG_REDISURL_HOST_MAX + 1] = '\0';
    snprintf(text, sizeof(text), "redis://%s", host);
    expect_refused(text, "host longer than 255 bytes");
    path[0] = '/';
    memset(path + 1, 's', FG_REDISURL_PATH_MAX);
    path[FG_REDISURL_PATH_MAX + 1] = '\0';
    expect_refused(path, "socket path longer than 107 bytes");
    expect_refused("redis://h:0", "port that is not a number from 1 to "
                   "65535");
    expect_refused("redis://h:65536", "port");
    expect_refused("redis://h:-1", "port");
    expect_refused("redis://h:", "port");
    expect_refused("redis://h:63x", "port");
    expect_refused("redis://h/1048576", "database");
    expect_refused("redis://h/-1", "database");
    expect_refused("redis://h/1/2", "database");
    expect_refused("unix:///s?db=1048576", "database");
    memset(text, 'x', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    memcpy(text, "redis://", 8);
    expect_refused(text, "longer than 4096 bytes");
}

static void
redisurl_refuses_what_it_does_not_speak(void)
{
    expect_refused("", "is empty");
    expect_refused("rediss://h:6379", "TLS");
    expect_refused("http://h:6379", "is neither");
    expect_refused("h:6379", "is neither");
    expect_refused("redis.sock", "is neither");
    expect_refused("redis://h:6379/0?timeout=1", "query string");
    expect_refused("redis://h:6379#x", "query string");
    expect_refused("redis://", "no host");
    expect_refused("redis://:" SECRET "@", "no host");
    expect_refused("redis://::1:6379", "more than one ':'");
    expect_refused("redis://[::1", "closing ']'");
    expect_refused("redis://[::1]x", "after its IPv6 address");
    expect_refused("redis://[::g]", "IPv6 address");
    expect_refused("redis://h st", "host name");
    expect_refused("unix://tmp/r.sock", "absolute socket path");
    expect_refused("unix:///tmp/r.sock?timeout=1", "unknown or repeated");
    expect_refused("unix:///tmp/r.sock?db=1&db=2", "unknown or repeated");
    expect_refused("unix:///tmp/r.sock#f", "fragment");
    expect_refused("unix:///tmp/r.sock?user=u", "user without a password");
    expect_refused("unix:///tmp/r.sock?password=", "empty password");
    expect_refused("/", "no socket path");
}

static void
redisurl_refuses_a_malformed_login(void)
{
    expect_refused("redis://user@h", "user without a password");
    expect_refused("redis://user:@h", "empty password");
    expect_refused("redis://:@h", "empty password");
    expect_refused("redis://:" SECRET "%zz@h", "percent-escape");
    expect_refused("redis://:" SECRET "%00@h", "percent-escape");
    expect_refused("redis://u%4:" SECRET "@h", "percent-escape");
}

/* Misplaced separators put pieces of the password where a host, port or
 * database is read: no message may quote any of it. */
static void
redisurl_messages_never_quote_the_password(void)
{
    expect_refused("redis://:" SECRET "/x@h:6379", "percent-encode");
    expect_refused("redis://:a/" SECRET "@h", "no host");
    expect_refused("redis://:ab?" SECRET "@h", "query string");
    expect_refused("redis://:ab#" SECRET "@h", "query string");
    expect_refused("redis://u:p@h:" SECRET, "port");
    expect_refused("redis://u:p@" SECRET ":" SECRET, "port");
    expect_refused("redis://u:p@h/" SECRET, "database");
    expect_refused("unix:///s?" SECRET "=1", "unknown");
    expect_refused("unix:///s?db=" SECRET, "database");
}

static void
redisurl_describe_masks_the_password(void)
{
    fg_redisurl_t url;
    fg_err_t      err;
    char          buf[256];

    expect_int_eq(parse("redis://:" SECRET "@h:6380/2", &url, &err), FG_OK);
    expect_str_eq(fg_redisurl_describe(&url, buf, sizeof(buf)),
                  "redis://:***@h:6380/2");
    expect_int_eq(parse("redis://u:" SECRET "@[::1]", &url, &err), FG_OK);
    expect_str_eq(fg_redisurl_describe(&url, buf, sizeof(buf)),
                  "redis://u:***@[::1]:6379/0");
    expect_int_eq(parse("redis://h", &url, &err), FG_OK);
    expect_str_eq(fg_redisurl_describe(&url, buf, sizeof(buf)),
                  "redis://h:6379/0");
    expect_int_eq(parse("unix:///s.sock?password=" SECRET "&db=3", &url,
                        &err), FG_OK);
    expect_str_eq(fg_redisurl_describe(&url, buf, sizeof(buf)),
                  "unix:///s.sock?db=3&password=***");
    expect_int_eq(parse("/s.sock", &url, &err), FG_OK);
    expect_str_eq(fg_redisurl_describe(&url, buf, sizeof(buf)),
                  "unix:///s.sock");
    expect_str_eq(fg_redisurl_describe(&url, buf, 8), "unix://");
}

FG_TEST_MAIN("redisurl",
             FG_TEST_CASE(redisurl_reads_host_port_and_db),
             FG_TEST_CASE(redisurl_defaults_port_6379_and_db_0),
             FG_TEST_CASE(redisurl_reads_a_password_for_the_default_user),
             FG_TEST_CASE(redisurl_reads_an_acl_user_and_password),
             FG_TEST_CASE(redisurl_percent_decodes_user_and_password),
             FG_TEST_CASE(redisurl_reads_a_bracketed_ipv6_address),
             FG_TEST_CASE(redisurl_reads_a_plain_socket_path),
             FG_TEST_CASE(redisurl_reads_a_unix_url_with_db_user_and_password),
             FG_TEST_CASE(redisurl_accepts_the_bounds),
             FG_TEST_CASE(redisurl_refuses_what_passes_the_bounds),
             FG_TEST_CASE(redisurl_refuses_what_it_does_not_speak),
             FG_TEST_CASE(redisurl_refuses_a_malformed_login),
             FG_TEST_CASE(redisurl_messages_never_quote_the_password),
             FG_TEST_CASE(redisurl_describe_masks_the_password))
