/*
 * test_reslog.c: the reservation log (common/store/reslog.h) in a
 * temporary folder: what is open after a reopen, that a usage record
 * closes its reservation once, that an open one is found by its request
 * id, and that the file, past its bound, is rewritten with the open
 * reservations only.
 */

#include "common/store/reslog.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/fg_test.h"

static char dir[64];
static char path[128];

static void
fresh(void)
{
    snprintf(dir, sizeof(dir), "/tmp/fg-test-reslog-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        FG_TEST_FAIL("mkdtemp failed");
    }
    snprintf(path, sizeof(path), "%s/reservations.journal", dir);
}

static void
cleanup(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        FG_TEST_FAIL("cannot remove %s", dir);
    }
}

static fg_usage_record_t
record(uint64_t seq, const char *id, uint32_t flags, int64_t micro)
{
    fg_usage_record_t r;

    fg_usage_init(&r);
    r.seq = seq;
    r.ring = 0;
    r.flags = flags;
    r.charged_micro = micro;
    FG_USAGE_SET(r.request_id, id);
    FG_USAGE_SET(r.key_id, "key_00000000000000aa");
    return r;
}

static long
file_size(void)
{
    struct stat st;

    return stat(path, &st) == 0 ? (long) st.st_size : -1;
}

static void
a_reservation_without_its_usage_record_is_open_after_a_reopen(void)
{
    fg_reslog_t      *rl;
    fg_err_t          err;
    fg_usage_record_t a = record(1, "req_a", FG_USAGE_RESERVATION, 700);
    fg_usage_record_t b = record(2, "req_b", FG_USAGE_RESERVATION, 900);
    fg_usage_record_t done = record(3, "req_a", 0, 300);

    fresh();
    rl = fg_reslog_open(path, "n1", 16, &err);
    expect_true(rl != NULL);
    fg_reslog_reserve(rl, &a);
    fg_reslog_reserve(rl, &b);
    fg_reslog_reserve(rl, &a);                  /* a re-delivery */
    expect_int_eq(fg_reslog_settle(rl, &done), 1);
    expect_int_eq(fg_reslog_settle(rl, &done), 0);   /* closed once */
    expect_int_eq(fg_reslog_flush(rl, &err), FG_OK);
    expect_int_eq(fg_reslog_sync(rl, &err), FG_OK);
    expect_int_eq(fg_reslog_open_count(rl), 1);
    fg_reslog_close(rl);

    rl = fg_reslog_open(path, "n1", 16, &err);
    expect_true(rl != NULL);
    expect_int_eq(fg_reslog_open_count(rl), 1);
    expect_str_eq(fg_reslog_open_at(rl, 0)->request_id, "req_b");
    expect_int_eq(fg_reslog_open_at(rl, 0)->charged_micro, 900);
    expect_int_eq(fg_reslog_last_seq(rl), 3);
    fg_reslog_close(rl);
    cleanup();
}

static void
past_its_bound_the_file_is_rewritten_with_the_open_reservations_only(void)
{
    fg_reslog_t      *rl;
    fg_err_t          err;
    uint64_t          seq = 1;
    char              id[32];
    int               i, compacted = 0;

    fresh();
    rl = fg_reslog_open(path, "n1", 64, &err);
    expect_true(rl != NULL);
    /* Three stay open; thousands open and close until the bound. */
    for (i = 0; i < 3; i++) {
        fg_usage_record_t r;

        snprintf(id, sizeof(id), "req_open_%d", i);
        r = record(seq++, id, FG_USAGE_RESERVATION, 100 + i);
        fg_reslog_reserve(rl, &r);
    }
    for (i = 0; file_size() < (long) FG_RESLOG_COMPACT_BYTES && i < 100000;
         i++) {
        fg_usage_record_t r, u;

        snprintf(id, sizeof(id), "req_%d", i);
        r = record(seq++, id, FG_USAGE_RESERVATION, 5);
        u = record(seq++, id, 0, 5);
        fg_reslog_reserve(rl, &r);
        expect_int_eq(fg_reslog_settle(rl, &u), 1);
        expect_int_eq(fg_reslog_flush(rl, &err), FG_OK);
    }
    expect_true(file_size() >= (long) FG_RESLOG_COMPACT_BYTES);
    expect_int_eq(fg_reslog_sync(rl, &err), FG_OK);
    compacted = fg_reslog_compact(rl, &err);
    expect_int_eq(compacted, 1);
    expect_true(file_size() > 0 && file_size() < 8192);
    expect_int_eq(fg_reslog_compact(rl, &err), 0);
    /* It goes on where it was. */
    {
        fg_usage_record_t r = record(seq++, "req_after", FG_USAGE_RESERVATION,
                                     7);

        fg_reslog_reserve(rl, &r);
        expect_int_eq(fg_reslog_flush(rl, &err), FG_OK);
        expect_int_eq(fg_reslog_sync(rl, &err), FG_OK);
    }
    fg_reslog_close(rl);
    rl = fg_reslog_open(path, "n1", 64, &err);
    expect_true(rl != NULL);
    expect_int_eq(fg_reslog_open_count(rl), 4);
    fg_reslog_close(rl);
    cleanup();
}

static void
an_open_set_at_its_bound_takes_no_more(void)
{
    fg_reslog_t *rl;
    fg_err_t     err;
    char         id[32];
    int          i;

    fresh();
    rl = fg_reslog_open(path, "n1", 4, &err);
    expect_true(rl != NULL);
    for (i = 0; i < 6; i++) {
        fg_usage_record_t r;

        snprintf(id, sizeof(id), "req_%d", i);
        r = record((uint64_t) i + 1, id, FG_USAGE_RESERVATION, 1);
        fg_reslog_reserve(rl, &r);
    }
    expect_int_eq(fg_reslog_open_count(rl), 4);
    fg_reslog_close(rl);
    cleanup();
}

static void
an_open_reservation_is_found_by_its_request_id_until_it_is_settled(void)
{
    fg_reslog_t      *rl;
    fg_err_t          err;
    fg_usage_record_t a = record(1, "req_a", FG_USAGE_RESERVATION
                                             | FG_USAGE_STREAM, 700);
    fg_usage_record_t b = record(2, "req_b", FG_USAGE_RESERVATION, 900);
    fg_usage_record_t done = record(3, "req_a", FG_USAGE_WORKER_LOST, 700);

    fresh();
    rl = fg_reslog_open(path, "n1", 16, &err);
    expect_true(rl != NULL);
    a.api = FG_USAGE_API_EMBEDDINGS;
    fg_reslog_reserve(rl, &a);
    fg_reslog_reserve(rl, &b);
    expect_true(fg_reslog_held(rl, "req_a") != NULL);
    expect_int_eq(fg_reslog_held(rl, "req_a")->api, FG_USAGE_API_EMBEDDINGS);
    expect_true(fg_reslog_held(rl, "req_a")->flags & FG_USAGE_STREAM);
    expect_int_eq(fg_reslog_held(rl, "req_b")->charged_micro, 900);
    expect_true(fg_reslog_held(rl, "req_c") == NULL);
    expect_int_eq(fg_reslog_settle(rl, &done), 1);
    expect_true(fg_reslog_held(rl, "req_a") == NULL);
    expect_str_eq(fg_reslog_held(rl, "req_b")->request_id, "req_b");
    fg_reslog_close(rl);
    cleanup();
}

int
main(void)
{
    static const fg_test_case_t cases[] = {
        FG_TEST_CASE(a_reservation_without_its_usage_record_is_open_after_a_reopen),
        FG_TEST_CASE(past_its_bound_the_file_is_rewritten_with_the_open_reservations_only),
        FG_TEST_CASE(an_open_set_at_its_bound_takes_no_more),
        FG_TEST_CASE(an_open_reservation_is_found_by_its_request_id_until_it_is_settled),
    };

    return fg_test_run("reslog", cases, sizeof(cases) / sizeof(cases[0]));
}
