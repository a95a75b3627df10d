/*
 * test_cors.c: allowed origins and a preflight's checks
 * (common/wire/cors).
 */

#include <string.h>

#include "common/wire/cors.h"
#include "tests/unit/fg_test.h"

static int
origin_ok(const char *s)
{
    return fg_cors_origin_check(s, strlen(s), NULL) == FG_OK;
}

static void
origins_as_a_browser_serializes_them_are_accepted(void)
{
    static const char *const good[] = {
        "https://app.example.com", "http://localhost:5173",
        "http://127.0.0.1:8080", "https://[::1]:8443", "http://[2001:db8::1]",
        "chrome-extension://abcdefghijklmnop", "https://my_host.internal",
        "https://xn--bcher-kva.example", "http://a:1", "http://a:65535",
    };
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (!origin_ok(good[i])) {
            FG_TEST_FAIL("\"%s\" was refused", good[i]);
        }
    }
}

static void
entries_no_browser_would_send_are_refused(void)
{
    static const char *const bad[] = {
        "", "null", "*.example.com", "app.example.com", "https://",
        "https:///x", "https://App.example.com", "HTTPS://app.example.com",
        "https://app.example.com/", "https://app.example.com/path",
        "https://app.example.com?q", "https://app..example.com",
        "https://.example.com", "https://example.com.", "https://a:0",
        "https://a:65536", "https://a:080", "https://a:", "https://a:8x",
        "https://a:443", "http://a:80", "https://[::1", "https://[::1]x",
        "https://[zz::1]", "https://user@a.example", "https://a b",
        "1http://a", "ht tp://a",
    };
    char   longest[FG_CORS_ORIGIN_MAX + 8];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (origin_ok(bad[i])) {
            FG_TEST_FAIL("\"%s\" was accepted", bad[i]);
        }
    }
    memcpy(longest, "https://", 8);
    memset(longest + 8, 'a', FG_CORS_ORIGIN_MAX - 8);
    longest[FG_CORS_ORIGIN_MAX] = '\0';
    expect_true(!origin_ok(longest));          /* 256 bytes */
    longest[FG_CORS_ORIGIN_MAX - 1] = '\0';
    expect_true(origin_ok(longest));           /* 255 */
}

static void
match_is_exact_and_star_answers_star(void)
{
    fg_cors_t c;
    fg_err_t  err;
    int       i;
    char      o[64];

    memset(&c, 0, sizeof(c));
    expect_true(fg_cors_match(&c, "https://a.example") == NULL);
    expect_int_eq(fg_cors_add(&c, "https://a.example", &err), FG_OK);
    expect_int_eq(fg_cors_add(&c, "https://a.example", &err), FG_OK);
    expect_int_eq(c.count, 1);
    expect_int_eq(fg_cors_echoes(&c), 1);
    expect_str_eq(fg_cors_match(&c, "https://a.example"), "https://a.example");
    expect_true(fg_cors_match(&c, "https://a.example:8443") == NULL);
    expect_true(fg_cors_match(&c, "http://a.example") == NULL);
    expect_true(fg_cors_match(&c, "https://A.example") == NULL);
    expect_true(fg_cors_match(&c, NULL) == NULL);
    expect_int_eq(fg_cors_add(&c, "*", &err), FG_OK);
    expect_int_eq(fg_cors_echoes(&c), 0);
    expect_str_eq(fg_cors_match(&c, "https://anything.example"), "*");
    expect_true(fg_cors_match(&c, NULL) == NULL);

    memset(&c, 0, sizeof(c));
    for (i = 0; i < FG_CORS_MAX_ORIGINS; i++) {
        snprintf(o, sizeof(o), "https://h%d.example", i);
        expect_int_eq(fg_cors_add(&c, o, &err), FG_OK);
    }
    expect_int_eq(fg_cors_add(&c, "https://one-more.example", &err), FG_ERR);
    expect_int_eq(err.code, FG_E_OUT_OF_RANGE);
}

static void
requested_headers_are_a_bounded_list_of_tokens(void)
{
    static const char *const good[] = {
        "", "authorization", "authorization,content-type,x-stainless-os",
        "Authorization, Content-Type", " a ,\tb ", "a,,b", ",", "x-!#$%&'*+.^_`|~",
    };
    static const char *const bad[] = {
        "a b", "a;b", "a,\"b\"", "a:b", "a/b", "(a)", "a,b c", "\x80",
    };
    char   list[2048];
    size_t i, n;
    fg_err_t err;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (fg_cors_request_headers_check(good[i], &err) != FG_OK) {
            FG_TEST_FAIL("\"%s\" was refused: %s", good[i], err.msg);
        }
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (fg_cors_request_headers_check(bad[i], &err) != FG_ERR) {
            FG_TEST_FAIL("\"%s\" was accepted", bad[i]);
        }
        expect_int_eq(err.code, FG_E_MALFORMED_HTTP);
    }
    /* 32 names pass, 33 do not. */
    for (n = 0, i = 0; i < FG_CORS_REQ_NAMES_MAX; i++) {
        n += (size_t) snprintf(list + n, sizeof(list) - n, "%sx-h%zu",
                               i ? "," : "", i);
    }
    expect_int_eq(fg_cors_request_headers_check(list, &err), FG_OK);
    snprintf(list + n, sizeof(list) - n, ",x-more");
    expect_int_eq(fg_cors_request_headers_check(list, &err), FG_ERR);
    /* 1024 bytes pass, 1025 do not. */
    memset(list, 'a', FG_CORS_REQ_HEADERS_MAX);
    list[FG_CORS_REQ_HEADERS_MAX] = '\0';
    expect_int_eq(fg_cors_request_headers_check(list, &err), FG_OK);
    list[FG_CORS_REQ_HEADERS_MAX] = 'a';
    list[FG_CORS_REQ_HEADERS_MAX + 1] = '\0';
    expect_int_eq(fg_cors_request_headers_check(list, &err), FG_ERR);
}

static void
the_requested_method_is_one_short_token(void)
{
    fg_err_t err;
    char     m[FG_CORS_REQ_METHOD_MAX + 2];

    expect_int_eq(fg_cors_request_method_check("POST", &err), FG_OK);
    expect_int_eq(fg_cors_request_method_check("PROPFIND", &err), FG_OK);
    expect_int_eq(fg_cors_request_method_check("", &err), FG_ERR);
    expect_int_eq(fg_cors_request_method_check("POST, GET", &err), FG_ERR);
    memset(m, 'A', sizeof(m) - 1);
    m[sizeof(m) - 1] = '\0';
    expect_int_eq(fg_cors_request_method_check(m, &err), FG_ERR);
    m[FG_CORS_REQ_METHOD_MAX] = '\0';
    expect_int_eq(fg_cors_request_method_check(m, &err), FG_OK);
}

FG_TEST_MAIN("cors",
             FG_TEST_CASE(origins_as_a_browser_serializes_them_are_accepted),
             FG_TEST_CASE(entries_no_browser_would_send_are_refused),
             FG_TEST_CASE(match_is_exact_and_star_answers_star),
             FG_TEST_CASE(requested_headers_are_a_bounded_list_of_tokens),
             FG_TEST_CASE(the_requested_method_is_one_short_token))
