/*
 * test_clientconns.c: connections per client across workers
 * (common/accounts/clientconns.h): which addresses are one client (an
 * IPv4 address, an IPv6 /64, an IPv4-mapped IPv6 address as its IPv4
 * one), counts summed over workers, given back by the connection and by
 * the master for a dead worker, and a full probe window.
 */

#include "common/accounts/clientconns.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "tests/unit/fg_test.h"

static fg_clientconns_t *
table_new(uint32_t slots)
{
    void *mem = aligned_alloc(64, fg_clientconns_bytes(slots));

    memset(mem, 0, fg_clientconns_bytes(slots));
    return fg_clientconns_init(mem, slots);
}

static uint64_t
client6(const fg_clientconns_t *t, const char *text)
{
    struct sockaddr_in6 a;

    memset(&a, 0, sizeof(a));
    a.sin6_family = AF_INET6;
    inet_pton(AF_INET6, text, &a.sin6_addr);
    return fg_clientconns_client(t, (struct sockaddr *) &a);
}

static uint64_t
client4(const fg_clientconns_t *t, const char *text)
{
    struct sockaddr_in a;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    inet_pton(AF_INET, text, &a.sin_addr);
    return fg_clientconns_client(t, (struct sockaddr *) &a);
}

static void
ipv6_addresses_of_one_slash_64_are_one_client(void)
{
    fg_clientconns_t *t = table_new(1024);

    expect_true(client6(t, "2001:db8:1:2::1") != 0);
    expect_true(client6(t, "2001:db8:1:2::1")
                == client6(t, "2001:db8:1:2:ffff:ffff:ffff:ffff"));
    expect_true(client6(t, "2001:db8:1:2::1")
                != client6(t, "2001:db8:1:3::1"));
    free(t);
}

static void
ipv4_addresses_are_clients_of_their_own_and_mapped_ones_are_the_same(void)
{
    fg_clientconns_t *t = table_new(1024);

    expect_true(client4(t, "127.0.0.1") != client4(t, "127.0.0.2"));
    expect_true(client4(t, "192.0.2.7") == client6(t, "::ffff:192.0.2.7"));
    /* Not one /64 with every IPv4 client: ::ffff:0:0/96 is its own rule. */
    expect_true(client4(t, "192.0.2.7") != client4(t, "192.0.2.8"));
    free(t);
}

static void
a_unix_socket_is_no_client(void)
{
    fg_clientconns_t  *t = table_new(1024);
    struct sockaddr_un u;

    memset(&u, 0, sizeof(u));
    u.sun_family = AF_UNIX;
    expect_int_eq(fg_clientconns_client(t, (struct sockaddr *) &u), 0);
    free(t);
}

static void
counts_add_up_across_workers_and_are_given_back(void)
{
    fg_clientconns_t *t = table_new(1024);
    uint64_t          c = client4(t, "198.51.100.1"), total = 0;
    int64_t           a, b, a2;

    a = fg_clientconns_take(t, 0, c, &total);
    expect_int_eq(total, 1);
    b = fg_clientconns_take(t, 1, c, &total);
    expect_int_eq(total, 2);
    a2 = fg_clientconns_take(t, 0, c, &total);
    expect_int_eq(total, 3);
    expect_int_eq(a, a2);               /* one entry per worker */
    expect_true(a >= 0 && b >= 0 && a != b);
    expect_int_eq(fg_clientconns_count(t, client4(t, "198.51.100.2")), 0);
    fg_clientconns_give(t, a);
    fg_clientconns_give(t, b);
    expect_int_eq(fg_clientconns_count(t, c), 1);
    fg_clientconns_give(t, a2);
    expect_int_eq(fg_clientconns_count(t, c), 0);
    free(t);
}

static void
a_dead_workers_counts_are_given_back_and_no_one_elses(void)
{
    fg_clientconns_t *t = table_new(1024);
    uint64_t          c = client4(t, "198.51.100.1"), total;
    int               i;

    for (i = 0; i < 5; i++) {
        (void) fg_clientconns_take(t, 7, c, &total);
    }
    (void) fg_clientconns_take(t, 8, c, &total);
    expect_int_eq(total, 6);
    expect_int_eq(fg_clientconns_release_worker(t, 7), 5);
    expect_int_eq(fg_clientconns_count(t, c), 1);
    expect_int_eq(fg_clientconns_release_worker(t, 7), 0);
    free(t);
}

static void
a_full_probe_window_serves_uncounted_and_says_so(void)
{
    fg_clientconns_t *t = table_new(1024);
    uint64_t          c = client4(t, "203.0.113.9"), total;
    int64_t           e;
    unsigned          w;

    /* FG_CLIENTCONNS_PROBE workers fill the window of one client. */
    for (w = 0; w < FG_CLIENTCONNS_PROBE; w++) {
        expect_true(fg_clientconns_take(t, w, c, &total) >= 0);
    }
    e = fg_clientconns_take(t, FG_CLIENTCONNS_PROBE, c, &total);
    expect_int_eq(e, -1);
    expect_int_eq(total, FG_CLIENTCONNS_PROBE + 1);
    free(t);
}

static void
the_table_is_sized_from_the_connections_within_its_bounds(void)
{
    expect_int_eq(fg_clientconns_slots(1), FG_CLIENTCONNS_MIN_SLOTS);
    expect_int_eq(fg_clientconns_slots(4096 * 2), 16384);
    expect_int_eq(fg_clientconns_slots(1ULL << 40), FG_CLIENTCONNS_MAX_SLOTS);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    return fg_test_run("clientconns", (fg_test_case_t[]) {
        FG_TEST_CASE(ipv6_addresses_of_one_slash_64_are_one_client),
        FG_TEST_CASE(ipv4_addresses_are_clients_of_their_own_and_mapped_ones_are_the_same),
        FG_TEST_CASE(a_unix_socket_is_no_client),
        FG_TEST_CASE(counts_add_up_across_workers_and_are_given_back),
        FG_TEST_CASE(a_dead_workers_counts_are_given_back_and_no_one_elses),
        FG_TEST_CASE(a_full_probe_window_serves_uncounted_and_says_so),
        FG_TEST_CASE(the_table_is_sized_from_the_connections_within_its_bounds),
    }, 7);
}
