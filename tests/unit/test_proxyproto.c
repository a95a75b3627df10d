/*
 * test_proxyproto.c: the PROXY protocol header (common/wire/proxyproto.h)
 * and the address blocks that decide whose header is believed
 * (common/wire/cidr.h).
 */

#include "common/wire/cidr.h"
#include "common/wire/proxyproto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "tests/unit/fg_test.h"

static const char v2_sig[] = "\r\n\r\n\0\r\nQUIT\n";

static int
parse(const char *s, size_t len, fg_proxyproto_t *pp)
{
    return fg_proxyproto_parse(s, len, pp);
}

static const char *
source_text(const fg_proxyproto_t *pp, char *buf, size_t n)
{
    const void *a = pp->source.ss_family == AF_INET
        ? (const void *) &((const struct sockaddr_in *) (const void *)
                           &pp->source)->sin_addr
        : (const void *) &((const struct sockaddr_in6 *) (const void *)
                           &pp->source)->sin6_addr;

    return inet_ntop(pp->source.ss_family, a, buf, (socklen_t) n);
}

static int
source_port(const fg_proxyproto_t *pp)
{
    return ntohs(pp->source.ss_family == AF_INET
                 ? ((const struct sockaddr_in *) (const void *)
                    &pp->source)->sin_port
                 : ((const struct sockaddr_in6 *) (const void *)
                    &pp->source)->sin6_port);
}

static void
v1_tcp4_names_the_client_and_stops_at_its_crlf(void)
{
    static const char s[] = "PROXY TCP4 198.51.100.7 192.0.2.1 51234 443\r\n"
                            "GET / HTTP/1.1\r\n";
    fg_proxyproto_t   pp;
    char              t[64];

    expect_int_eq(parse(s, sizeof(s) - 1, &pp), 45);
    expect_int_eq(pp.has_source, 1);
    expect_str_eq(source_text(&pp, t, sizeof(t)), "198.51.100.7");
    expect_int_eq(source_port(&pp), 51234);
}

static void
v1_tcp6_and_unknown_are_read(void)
{
    static const char s6[] = "PROXY TCP6 2001:db8::7 2001:db8::1 1 65535\r\n";
    static const char su[] = "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n";
    fg_proxyproto_t   pp;
    char              t[64];

    expect_int_eq(parse(s6, sizeof(s6) - 1, &pp), (int) sizeof(s6) - 1);
    expect_str_eq(source_text(&pp, t, sizeof(t)), "2001:db8::7");
    expect_int_eq(parse(su, sizeof(su) - 1, &pp), (int) sizeof(su) - 1);
    expect_int_eq(pp.has_source, 0);
}

static void
a_v1_header_cut_anywhere_needs_more(void)
{
    static const char s[] = "PROXY TCP4 198.51.100.7 192.0.2.1 51234 443\r\n";
    fg_proxyproto_t   pp;
    size_t            i;

    for (i = 0; i < sizeof(s) - 1; i++) {
        if (parse(s, i, &pp) != 0) {
            FG_TEST_FAIL("a prefix of %zu bytes gave %d", i, parse(s, i, &pp));
        }
    }
}

static void
malformed_v1_headers_are_refused(void)
{
    static const char *const bad[] = {
        "GET / HTTP/1.1\r\n",
        "PROXY TCP4 198.51.100.7 192.0.2.1 51234 443\n",
        "PROXY TCP4 198.51.100.7  192.0.2.1 51234 443\r\n",
        "PROXY TCP4 198.51.100.7 192.0.2.1 51234 443 \r\n",
        "PROXY TCP4 2001:db8::7 192.0.2.1 51234 443\r\n",
        "PROXY TCP6 198.51.100.7 192.0.2.1 51234 443\r\n",
        "PROXY TCP4 198.51.100.7 192.0.2.1 65536 443\r\n",
        "PROXY TCP4 198.51.100.7 192.0.2.1 0443 443\r\n",
        "PROXY TCP4 198.51.100.7 192.0.2.1 -1 443\r\n",
        "PROXY TCP4 198.51.100.7 192.0.2.1 51234\r\n",
        "PROXY UDP4 198.51.100.7 192.0.2.1 51234 443\r\n",
        "PROXY\r\n",
        "proxy TCP4 198.51.100.7 192.0.2.1 51234 443\r\n",
    };
    fg_proxyproto_t pp;
    size_t          i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse(bad[i], strlen(bad[i]), &pp) != -1) {
            FG_TEST_FAIL("\"%s\" was not refused", bad[i]);
        }
    }
}

static void
a_v1_line_longer_than_107_bytes_is_refused(void)
{
    char            s[200];
    fg_proxyproto_t pp;

    memset(s, '1', sizeof(s));
    memcpy(s, "PROXY TCP4 ", 11);
    expect_int_eq(parse(s, 106, &pp), 0);
    expect_int_eq(parse(s, 107, &pp), -1);
}

static void
v2_tcp4_tcp6_and_local_are_read(void)
{
    unsigned char   s[64];
    fg_proxyproto_t pp;
    char            t[64];

    memcpy(s, v2_sig, 12);
    s[12] = 0x21;  /* v2, PROXY */
    s[13] = 0x11;  /* TCP over IPv4 */
    s[14] = 0;
    s[15] = 12;
    memcpy(s + 16, "\xc6\x33\x64\x07" "\xc0\x00\x02\x01" "\xc8\x22" "\x01\xbb",
           12);
    expect_int_eq(parse((char *) s, 28, &pp), 28);
    expect_str_eq(source_text(&pp, t, sizeof(t)), "198.51.100.7");
    expect_int_eq(source_port(&pp), 51234);
    expect_int_eq(parse((char *) s, 27, &pp), 0);

    s[13] = 0x21;  /* TCP over IPv6 */
    s[15] = 36;
    memset(s + 16, 0, 36);
    s[16] = 0x20;
    s[17] = 0x01;
    s[31] = 7;
    expect_int_eq(parse((char *) s, 52, &pp), 52);
    expect_str_eq(source_text(&pp, t, sizeof(t)), "2001::7");

    s[12] = 0x20;  /* LOCAL: a health check of the proxy's own */
    s[15] = 0;
    expect_int_eq(parse((char *) s, 16, &pp), 16);
    expect_int_eq(pp.has_source, 0);
}

static void
bad_v2_headers_are_refused(void)
{
    unsigned char   s[600];
    fg_proxyproto_t pp;

    memset(s, 0, sizeof(s));
    memcpy(s, v2_sig, 12);
    s[12] = 0x11;                /* version 1 in a v2 header */
    expect_int_eq(parse((char *) s, 16, &pp), -1);
    s[12] = 0x22;                /* command 2 */
    expect_int_eq(parse((char *) s, 16, &pp), -1);
    s[12] = 0x21;
    s[13] = 0x11;
    s[15] = 4;                   /* too short for two IPv4 addresses */
    expect_int_eq(parse((char *) s, 20, &pp), -1);
    s[13] = 0x12;                /* UDP */
    s[15] = 12;
    expect_int_eq(parse((char *) s, 28, &pp), -1);
    s[13] = 0x11;
    s[14] = 0x02;                /* 16 + 524 bytes: over the bound */
    s[15] = 0x0c + 1;
    expect_int_eq(parse((char *) s, sizeof(s), &pp), -1);
}

static struct sockaddr_storage
addr(const char *text)
{
    struct sockaddr_storage ss;

    expect_int_eq(fg_cidr_addr_parse(text, strlen(text), &ss), FG_OK);
    return ss;
}

static void
cidr_blocks_match_their_addresses_only(void)
{
    fg_cidr_set_t           set;
    fg_err_t                err;
    struct sockaddr_storage a;

    expect_int_eq(fg_cidr_parse(&set, "10.0.0.0/8, 192.0.2.7,2001:db8::/32",
                                &err), FG_OK);
    expect_int_eq(set.count, 3);
    a = addr("10.200.1.1");
    expect_int_eq(fg_cidr_match(&set, (struct sockaddr *) &a), 1);
    a = addr("11.0.0.1");
    expect_int_eq(fg_cidr_match(&set, (struct sockaddr *) &a), 0);
    a = addr("192.0.2.7");
    expect_int_eq(fg_cidr_match(&set, (struct sockaddr *) &a), 1);
    a = addr("192.0.2.8");
    expect_int_eq(fg_cidr_match(&set, (struct sockaddr *) &a), 0);
    a = addr("2001:db8:ffff::1");
    expect_int_eq(fg_cidr_match(&set, (struct sockaddr *) &a), 1);
    a = addr("2001:db9::1");
    expect_int_eq(fg_cidr_match(&set, (struct sockaddr *) &a), 0);
    a = addr("::ffff:10.1.2.3");   /* IPv4-mapped: as its IPv4 address */
    expect_int_eq(fg_cidr_match(&set, (struct sockaddr *) &a), 1);
}

static void
cidr_odd_prefixes_and_the_empty_set(void)
{
    fg_cidr_set_t           set;
    fg_err_t                err;
    struct sockaddr_storage a;

    expect_int_eq(fg_cidr_parse(&set, "192.0.2.128/25", &err), FG_OK);
    a = addr("192.0.2.200");
    expect_int_eq(fg_cidr_match(&set, (struct sockaddr *) &a), 1);
    a = addr("192.0.2.127");
    expect_int_eq(fg_cidr_match(&set, (struct sockaddr *) &a), 0);
    expect_int_eq(fg_cidr_parse(&set, "0.0.0.0/0", &err), FG_OK);
    expect_int_eq(fg_cidr_match(&set, (struct sockaddr *) &a), 1);
    expect_int_eq(fg_cidr_parse(&set, "", &err), FG_OK);
    expect_int_eq(set.count, 0);
    expect_int_eq(fg_cidr_match(&set, (struct sockaddr *) &a), 0);
}

static void
cidr_bad_blocks_are_refused(void)
{
    static const char *const bad[] = {
        "10.0.0.0/33", "2001:db8::/129", "10.0.0.0/", "10.0.0.0/-1",
        "example.com", "10.0.0/8", "10.0.0.0/8x", "1.2.3.4:80",
    };
    fg_cidr_set_t set;
    fg_err_t      err;
    size_t        i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (fg_cidr_parse(&set, bad[i], &err) != FG_ERR) {
            FG_TEST_FAIL("\"%s\" was accepted", bad[i]);
        }
    }
}

FG_TEST_MAIN("proxyproto",
             FG_TEST_CASE(v1_tcp4_names_the_client_and_stops_at_its_crlf),
             FG_TEST_CASE(v1_tcp6_and_unknown_are_read),
             FG_TEST_CASE(a_v1_header_cut_anywhere_needs_more),
             FG_TEST_CASE(malformed_v1_headers_are_refused),
             FG_TEST_CASE(a_v1_line_longer_than_107_bytes_is_refused),
             FG_TEST_CASE(v2_tcp4_tcp6_and_local_are_read),
             FG_TEST_CASE(bad_v2_headers_are_refused),
             FG_TEST_CASE(cidr_blocks_match_their_addresses_only),
             FG_TEST_CASE(cidr_odd_prefixes_and_the_empty_set),
             FG_TEST_CASE(cidr_bad_blocks_are_refused))
