/*
 * test_keytable.c: the shared-memory key table (common/accounts/keytable.h). The
 * single-process tests pin the block checks, the open-addressing edge
 * cases (colliding homes, wrap-around, tombstones, compaction, exact
 * capacity), recovery after a writer died, and the record rules. The
 * forked tests run a reader process against the writer on a MAP_SHARED
 * mapping: every record the reader gets must be one the writer published
 * whole, its lookups never go back in time, and a key that stays in the
 * table is never reported absent. Two of them let the processes race
 * freely; two stop the reader with a signal wherever it is, let the
 * writer reuse the version it was copying or rebuild the index it was
 * probing, and let it go on, which catches a missing check on every run
 * instead of when the scheduler happens to interleave that way. Nothing
 * depends on timing: the outcome is the same however the two interleave.
 *
 * Tests build hashes themselves: the table only needs them distinct, and
 * the first 8 bytes (little-endian) choose the home slot, which is how the
 * collision tests aim several keys at one slot.
 */

#include "common/accounts/keytable.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/fg_test.h"

/* Bits below a word's stamp (common/accounts/keytable.c: stamp:38 | version:24 |
 * state:2); the recovery test reads published words to check stamps. */
#define STAMP_SHIFT 26

typedef struct {
    void          *mem;
    size_t         bytes;
    fg_keytable_t *t;
} table_t;

/* Zeroed memory a forked reader shares; populated up front, which halves
 * the time of the 100000-key test (page faults otherwise dominate). */
static void *
map_shared(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

    if (p == MAP_FAILED) {
        fprintf(stderr, "mmap(MAP_SHARED|MAP_ANONYMOUS, %zu) failed: %s\n",
                bytes, strerror(errno));
        exit(1);
    }
    return p;
}

/* A zeroed shared block with a fresh table of @max_keys in it. */
static fg_keytable_t *
table_new(table_t *tb, uint32_t max_keys)
{
    fg_err_t err;

    tb->bytes = fg_keytable_bytes(max_keys);
    tb->mem = map_shared(tb->bytes);
    tb->t = fg_keytable_init(tb->mem, tb->bytes, max_keys, &err);
    if (tb->t == NULL) {
        fprintf(stderr, "fg_keytable_init(%u keys) failed: %s\n", max_keys,
                err.msg);
        exit(1);
    }
    return tb->t;
}

static void
table_free(table_t *tb)
{
    munmap(tb->mem, tb->bytes);
}

static uint64_t
splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A well-spread hash, distinct for every @n (the first word is a
 * bijection of @n). */
static void
hash_of(uint64_t n, uint8_t hash[FG_KEY_HASH_BYTES])
{
    uint64_t x = n, w;
    size_t   i;

    for (i = 0; i < FG_KEY_HASH_BYTES; i += 8) {
        w = splitmix64(&x);
        memcpy(hash + i, &w, 8);
    }
}

/* A hash whose home slot is @home in every table with more slots, told
 * apart from its siblings by @n in the later bytes. */
static void
colliding_hash(uint64_t home, uint64_t n, uint8_t hash[FG_KEY_HASH_BYTES])
{
    int i;

    hash_of(n, hash);
    for (i = 0; i < 8; i++) {
        hash[i] = (uint8_t) (home >> (8 * i));
    }
}

/* A valid record for key @n; kr_created_ms carries @n. */
static void
record_for(fg_key_record_t *rec, uint64_t n)
{
    memset(rec, 0, sizeof(*rec));
    hash_of(n, rec->kr_hash);
    snprintf(rec->kr_id, sizeof(rec->kr_id), "key_%016llx",
             (unsigned long long) n);
    snprintf(rec->kr_name, sizeof(rec->kr_name), "name-%llu",
             (unsigned long long) n);
    rec->kr_status = FG_KEY_STATUS_ACTIVE;
    rec->kr_created_ms = (int64_t) n;
}

static int
put_key(fg_keytable_t *t, uint64_t n)
{
    fg_key_record_t rec;
    fg_err_t        err;

    record_for(&rec, n);
    return fg_keytable_put(t, &rec, &err);
}

/* FOUND with key @n's own record, or a failure naming @n. */
static int
has_key(const fg_keytable_t *t, uint64_t n)
{
    fg_key_record_t rec, got;

    record_for(&rec, n);
    if (fg_keytable_lookup(t, rec.kr_hash, &got) != FG_KEYTABLE_FOUND) {
        return 0;
    }
    return memcmp(&rec, &got, sizeof(rec)) == 0;
}

static fg_keytable_result_t
lookup_key(const fg_keytable_t *t, uint64_t n)
{
    fg_key_record_t rec, got;

    record_for(&rec, n);
    return fg_keytable_lookup(t, rec.kr_hash, &got);
}

static fg_keytable_result_t
delete_key(fg_keytable_t *t, uint64_t n)
{
    uint8_t hash[FG_KEY_HASH_BYTES];

    hash_of(n, hash);
    return fg_keytable_delete(t, hash);
}

static int
put_colliding(fg_keytable_t *t, uint64_t home, uint64_t n, const char *name)
{
    fg_key_record_t rec;
    fg_err_t        err;

    record_for(&rec, n);
    colliding_hash(home, n, rec.kr_hash);
    snprintf(rec.kr_name, sizeof(rec.kr_name), "%s", name);
    return fg_keytable_put(t, &rec, &err);
}

/* kr_name of the colliding key @n, "" when it is not FOUND. */
static const char *
colliding_name(const fg_keytable_t *t, uint64_t home, uint64_t n,
               fg_key_record_t *out)
{
    uint8_t hash[FG_KEY_HASH_BYTES];

    colliding_hash(home, n, hash);
    if (fg_keytable_lookup(t, hash, out) != FG_KEYTABLE_FOUND) {
        return "";
    }
    return out->kr_name;
}

static fg_keytable_result_t
delete_colliding(fg_keytable_t *t, uint64_t home, uint64_t n)
{
    uint8_t hash[FG_KEY_HASH_BYTES];

    colliding_hash(home, n, hash);
    return fg_keytable_delete(t, hash);
}

/* How many times fg_keytable_next() hands out each key 0 .. @n - 1 (by
 * kr_created_ms) into @seen; returns the number of records visited, or
 * -1 when it handed out a key outside the range. */
static long
iterate_counting(const fg_keytable_t *t, uint32_t *seen, uint64_t n)
{
    fg_key_record_t      rec;
    fg_keytable_result_t r;
    uint32_t             cursor = 0;
    long                 visited = 0;

    memset(seen, 0, n * sizeof(*seen));
    while ((r = fg_keytable_next(t, &cursor, &rec)) != FG_KEYTABLE_NOT_FOUND) {
        if (r == FG_KEYTABLE_BUSY) {
            return -1;      /* no writer runs: impossible */
        }
        if (rec.kr_created_ms < 0 || (uint64_t) rec.kr_created_ms >= n) {
            return -1;
        }
        seen[rec.kr_created_ms]++;
        visited++;
    }
    return visited;
}

static uint64_t
max_published_stamp(const fg_keytable_t *t)
{
    const _Atomic uint64_t *idx;
    uint64_t                max = 0, w, g;
    uint32_t                i;

    for (g = 0; g < 2; g++) {
        idx = (const _Atomic uint64_t *) ((const char *) t
                                          + t->kt_index_offset[g]);
        for (i = 0; i < t->kt_index_slots; i++) {
            w = atomic_load(&idx[i]);
            if ((w >> STAMP_SHIFT) > max) {
                max = w >> STAMP_SHIFT;
            }
        }
    }
    return max;
}

/* ---- block size, init and attach ---------------------------------- */

static void
bytes_is_zero_out_of_range(void)
{
    expect_int_eq(fg_keytable_bytes(0), 0);
    expect_int_eq(fg_keytable_bytes(FG_KEYTABLE_MAX_KEYS + 1), 0);
    expect_int_eq(fg_keytable_bytes(UINT32_MAX), 0);
    expect_true(fg_keytable_bytes(FG_KEYTABLE_MAX_KEYS) > 0);
}

static void
bytes_covers_header_indexes_free_stack_and_versions_in_64s(void)
{
    uint32_t n;

    for (n = 1; n <= 5000; n += 333) {
        size_t   b = fg_keytable_bytes(n);
        uint64_t slots = 8;

        while (slots < 2 * (uint64_t) n) {
            slots *= 2;
        }
        expect_int_eq(b % 64, 0);
        expect_true(b >= sizeof(fg_keytable_t) + 2 * slots * 8
                         + ((uint64_t) n + 1) * 4
                         + ((uint64_t) n + 1) * sizeof(fg_key_record_t));
    }
}

static void
init_lays_out_an_empty_table(void)
{
    table_t             tb;
    fg_keytable_t      *t = table_new(&tb, 1000);
    fg_keytable_stats_t st;
    fg_key_record_t     rec;
    uint32_t            cursor = 0;

    fg_keytable_stats(t, &st);
    expect_true(t == tb.mem);
    expect_int_eq(st.max_keys, 1000);
    expect_int_eq(st.index_slots, 2048);
    expect_int_eq(st.count, 0);
    expect_int_eq(st.tombstones, 0);
    expect_int_eq(st.writer_busy, 0);
    expect_int_eq(st.compactions, 0);
    expect_int_eq(st.bytes, tb.bytes);
    expect_int_eq(fg_keytable_count(t), 0);
    expect_int_eq(lookup_key(t, 1), FG_KEYTABLE_NOT_FOUND);
    expect_int_eq(fg_keytable_next(t, &cursor, &rec), FG_KEYTABLE_NOT_FOUND);
    table_free(&tb);
}

static void
init_refuses_max_keys_out_of_range(void)
{
    void     *mem = map_shared(4096);
    fg_err_t  err;

    memset(&err, 0, sizeof(err));
    expect_true(fg_keytable_init(mem, 4096, 0, &err) == NULL);
    expect_int_eq(err.code, FG_E_OUT_OF_RANGE);
    expect_str_eq(err.param, "max_keys");
    memset(&err, 0, sizeof(err));
    expect_true(fg_keytable_init(mem, 4096, FG_KEYTABLE_MAX_KEYS + 1, &err)
                == NULL);
    expect_int_eq(err.code, FG_E_OUT_OF_RANGE);
    munmap(mem, 4096);
}

static void
init_refuses_a_block_one_byte_too_small_and_leaves_it(void)
{
    size_t    need = fg_keytable_bytes(100);
    uint8_t  *mem = map_shared(need);
    fg_err_t  err;
    size_t    i, nonzero = 0;

    memset(&err, 0, sizeof(err));
    expect_true(fg_keytable_init(mem, need - 1, 100, &err) == NULL);
    expect_int_eq(err.code, FG_E_INTERNAL);
    for (i = 0; i < need; i++) {
        nonzero += mem[i] != 0;
    }
    expect_int_eq(nonzero, 0);
    expect_true(fg_keytable_init(mem, need, 100, &err) != NULL);
    munmap(mem, need);
}

static void
init_refuses_a_block_not_8_byte_aligned(void)
{
    size_t    need = fg_keytable_bytes(100);
    char     *mem = map_shared(need + 64);
    fg_err_t  err;
    int       off;

    for (off = 1; off < 8; off++) {
        memset(&err, 0, sizeof(err));
        expect_true(fg_keytable_init(mem + off, need, 100, &err) == NULL);
        expect_int_eq(err.code, FG_E_INTERNAL);
    }
    expect_true(fg_keytable_init(mem + 8, need, 100, &err) != NULL);
    munmap(mem, need + 64);
}

static void
attach_accepts_the_table_init_made(void)
{
    table_t   tb;
    fg_err_t  err;

    table_new(&tb, 100);
    expect_true(put_key(tb.t, 7) == FG_OK);
    expect_true(fg_keytable_attach(tb.mem, tb.bytes, &err) == tb.t);
    expect_true(fg_keytable_attach(tb.mem, tb.bytes + 4096, &err) == tb.t);
    expect_true(has_key(fg_keytable_attach(tb.mem, tb.bytes, &err), 7));
    table_free(&tb);
}

static void
attach_refuses_a_zeroed_block_and_a_bad_magic(void)
{
    table_t   tb;
    size_t    bytes = fg_keytable_bytes(100);
    void     *zero = map_shared(bytes);
    fg_err_t  err;

    memset(&err, 0, sizeof(err));
    expect_true(fg_keytable_attach(zero, bytes, &err) == NULL);
    expect_int_eq(err.code, FG_E_INTERNAL);
    munmap(zero, bytes);

    table_new(&tb, 100);
    tb.t->kt_magic ^= 1;
    expect_true(fg_keytable_attach(tb.mem, tb.bytes, &err) == NULL);
    tb.t->kt_magic ^= 1;
    expect_true(fg_keytable_attach(tb.mem, tb.bytes, &err) != NULL);
    table_free(&tb);
}

static void
attach_refuses_another_layout_version_header_or_record_size(void)
{
    table_t   tb;
    fg_err_t  err;

    table_new(&tb, 100);
    tb.t->kt_layout_version = FG_KEYTABLE_LAYOUT_VERSION + 1;
    expect_true(fg_keytable_attach(tb.mem, tb.bytes, &err) == NULL);
    tb.t->kt_layout_version = FG_KEYTABLE_LAYOUT_VERSION;
    tb.t->kt_header_bytes = 64;
    expect_true(fg_keytable_attach(tb.mem, tb.bytes, &err) == NULL);
    tb.t->kt_header_bytes = sizeof(fg_keytable_t);
    tb.t->kt_record_bytes = 1024;
    expect_true(fg_keytable_attach(tb.mem, tb.bytes, &err) == NULL);
    tb.t->kt_record_bytes = sizeof(fg_key_record_t);
    expect_true(fg_keytable_attach(tb.mem, tb.bytes, &err) != NULL);
    table_free(&tb);
}

static void
attach_refuses_a_block_smaller_than_the_table(void)
{
    table_t   tb;
    fg_err_t  err;

    table_new(&tb, 100);
    memset(&err, 0, sizeof(err));
    expect_true(fg_keytable_attach(tb.mem, tb.bytes - 1, &err) == NULL);
    expect_int_eq(err.code, FG_E_INTERNAL);
    expect_true(fg_keytable_attach(tb.mem, sizeof(fg_keytable_t) - 1, &err)
                == NULL);
    table_free(&tb);
}

static void
attach_refuses_sizes_that_disagree_with_max_keys(void)
{
    table_t   tb;
    fg_err_t  err;

    table_new(&tb, 100);
    tb.t->kt_total_bytes -= 64;
    expect_true(fg_keytable_attach(tb.mem, tb.bytes, &err) == NULL);
    tb.t->kt_total_bytes += 64;
    tb.t->kt_max_keys = 50;
    expect_true(fg_keytable_attach(tb.mem, tb.bytes, &err) == NULL);
    tb.t->kt_max_keys = 100;
    expect_true(fg_keytable_attach(tb.mem, tb.bytes, &err) != NULL);
    table_free(&tb);
}

/* Readers index the block by these fields: a header that passed the
 * checks above but names other slots or offsets would send them out of
 * the block. */
static void
attach_refuses_index_or_offsets_that_disagree_with_max_keys(void)
{
    table_t   tb;
    fg_err_t  err;
    uint64_t  saved;

    table_new(&tb, 100);
    tb.t->kt_index_slots *= 2;
    expect_true(fg_keytable_attach(tb.mem, tb.bytes, &err) == NULL);
    tb.t->kt_index_slots /= 2;
    tb.t->kt_versions += 1;
    expect_true(fg_keytable_attach(tb.mem, tb.bytes, &err) == NULL);
    tb.t->kt_versions -= 1;
    saved = tb.t->kt_versions_offset;
    tb.t->kt_versions_offset = tb.bytes;
    expect_true(fg_keytable_attach(tb.mem, tb.bytes, &err) == NULL);
    tb.t->kt_versions_offset = saved;
    saved = tb.t->kt_index_offset[1];
    tb.t->kt_index_offset[1] = tb.bytes - 8;
    expect_true(fg_keytable_attach(tb.mem, tb.bytes, &err) == NULL);
    tb.t->kt_index_offset[1] = saved;
    expect_true(fg_keytable_attach(tb.mem, tb.bytes, &err) != NULL);
    table_free(&tb);
}

static void
attach_refuses_a_block_not_8_byte_aligned(void)
{
    size_t    need = fg_keytable_bytes(100);
    char     *mem = map_shared(need + 64);
    char     *copy = map_shared(need + 64);
    fg_err_t  err;

    expect_true(fg_keytable_init(mem, need, 100, &err) != NULL);
    memcpy(copy + 4, mem, need);
    memset(&err, 0, sizeof(err));
    expect_true(fg_keytable_attach(copy + 4, need, &err) == NULL);
    expect_int_eq(err.code, FG_E_INTERNAL);
    munmap(mem, need + 64);
    munmap(copy, need + 64);
}

/* ---- put, lookup, replace, delete ---------------------------------- */

static void
put_then_lookup_returns_every_field(void)
{
    table_t          tb;
    fg_keytable_t   *t = table_new(&tb, 10);
    fg_key_record_t  rec, got;
    fg_err_t         err;
    size_t           i;

    record_for(&rec, 42);
    expect_int_eq(FG_KEY_RECORD_SET(&rec, owner, "team-a", &err), FG_OK);
    rec.kr_updated_ms = 2;
    rec.kr_expires_ms = 3;
    rec.kr_grace_until_ms = 4;
    rec.kr_status = FG_KEY_STATUS_ROTATED;
    rec.kr_requests_per_min = 5;
    rec.kr_tokens_per_min = 6;
    rec.kr_max_concurrent = 7;
    rec.kr_balance_micro = INT64_MAX;
    rec.kr_regen_per_hour_micro = 9;
    rec.kr_cap_micro = 10;
    rec.kr_preset = 2;
    rec.kr_transforms = FG_KEY_TRANSFORM_MIDDLE_OUT;
    expect_int_eq(fg_key_record_add_model(&rec, "openai/*", &err), FG_OK);
    expect_int_eq(fg_key_record_add_model(&rec, "demo-chat", &err), FG_OK);
    for (i = 0; i < sizeof(rec.kr_metadata) - 1; i++) {
        rec.kr_metadata[i] = (char) ('a' + i % 26);
    }

    expect_int_eq(fg_keytable_put(t, &rec, &err), FG_OK);
    memset(&got, 0xab, sizeof(got));
    expect_int_eq(fg_keytable_lookup(t, rec.kr_hash, &got),
                  FG_KEYTABLE_FOUND);
    expect_true(memcmp(&rec, &got, sizeof(rec)) == 0);
    expect_int_eq(fg_keytable_count(t), 1);
    table_free(&tb);
}

static void
lookup_of_an_absent_key_leaves_out_untouched(void)
{
    table_t          tb;
    fg_keytable_t   *t = table_new(&tb, 10);
    fg_key_record_t  got, before;
    uint8_t          hash[FG_KEY_HASH_BYTES];

    expect_int_eq(put_key(t, 1), FG_OK);
    hash_of(2, hash);
    memset(&got, 0xab, sizeof(got));
    before = got;
    expect_int_eq(fg_keytable_lookup(t, hash, &got), FG_KEYTABLE_NOT_FOUND);
    expect_true(memcmp(&got, &before, sizeof(got)) == 0);
    table_free(&tb);
}

static void
lookup_needs_every_hash_byte_to_match(void)
{
    table_t          tb;
    fg_keytable_t   *t = table_new(&tb, 10);
    fg_key_record_t  rec, got;
    uint8_t          hash[FG_KEY_HASH_BYTES];
    size_t           i;

    record_for(&rec, 5);
    expect_int_eq(put_key(t, 5), FG_OK);
    for (i = 0; i < FG_KEY_HASH_BYTES; i++) {
        memcpy(hash, rec.kr_hash, sizeof(hash));
        hash[i] ^= 0x80;
        expect_int_eq(fg_keytable_lookup(t, hash, &got),
                      FG_KEYTABLE_NOT_FOUND);
    }
    table_free(&tb);
}

static void
put_of_the_same_hash_replaces_the_record(void)
{
    table_t          tb;
    fg_keytable_t   *t = table_new(&tb, 10);
    fg_key_record_t  rec, got;
    fg_err_t         err;
    int              i;

    record_for(&rec, 3);
    for (i = 0; i < 100; i++) {
        rec.kr_balance_micro = i;
        expect_int_eq(fg_keytable_put(t, &rec, &err), FG_OK);
    }
    expect_int_eq(fg_keytable_count(t), 1);
    expect_int_eq(fg_keytable_lookup(t, rec.kr_hash, &got),
                  FG_KEYTABLE_FOUND);
    expect_int_eq(got.kr_balance_micro, 99);
    table_free(&tb);
}

static void
delete_removes_only_that_key_and_reports_absent_keys(void)
{
    table_t        tb;
    fg_keytable_t *t = table_new(&tb, 100);
    uint64_t       n;

    expect_int_eq(delete_key(t, 1), FG_KEYTABLE_NOT_FOUND);
    for (n = 0; n < 50; n++) {
        expect_int_eq(put_key(t, n), FG_OK);
    }
    expect_int_eq(delete_key(t, 17), FG_KEYTABLE_FOUND);
    expect_int_eq(delete_key(t, 17), FG_KEYTABLE_NOT_FOUND);
    expect_int_eq(delete_key(t, 1000), FG_KEYTABLE_NOT_FOUND);
    expect_int_eq(lookup_key(t, 17), FG_KEYTABLE_NOT_FOUND);
    expect_int_eq(fg_keytable_count(t), 49);
    for (n = 0; n < 50; n++) {
        if (n != 17) {
            expect_true(has_key(t, n));
        }
    }
    expect_int_eq(put_key(t, 17), FG_OK);
    expect_true(has_key(t, 17));
    expect_int_eq(fg_keytable_count(t), 50);
    table_free(&tb);
}

/* Three keys share a home slot; deleting the first leaves a tombstone
 * that the probe for the others must walk past. */
static void
probe_walks_past_a_tombstone_to_a_colliding_key(void)
{
    table_t          tb;
    fg_keytable_t   *t = table_new(&tb, 100);
    fg_key_record_t  got;

    expect_int_eq(put_colliding(t, 5, 1, "a"), FG_OK);
    expect_int_eq(put_colliding(t, 5, 2, "b"), FG_OK);
    expect_int_eq(put_colliding(t, 5, 3, "c"), FG_OK);
    expect_int_eq(delete_colliding(t, 5, 1), FG_KEYTABLE_FOUND);
    expect_str_eq(colliding_name(t, 5, 1, &got), "");
    expect_str_eq(colliding_name(t, 5, 2, &got), "b");
    expect_str_eq(colliding_name(t, 5, 3, &got), "c");
    expect_int_eq(delete_colliding(t, 5, 2), FG_KEYTABLE_FOUND);
    expect_str_eq(colliding_name(t, 5, 3, &got), "c");
    expect_int_eq(fg_keytable_count(t), 1);
    table_free(&tb);
}

/* Replacing a key that sits behind a tombstone must find it, not insert
 * a second copy into the tombstone. */
static void
replace_behind_a_tombstone_keeps_a_single_copy(void)
{
    table_t          tb;
    fg_keytable_t   *t = table_new(&tb, 100);
    fg_key_record_t  got;
    uint32_t         cursor = 0, visits = 0;

    expect_int_eq(put_colliding(t, 9, 1, "a"), FG_OK);
    expect_int_eq(put_colliding(t, 9, 2, "b"), FG_OK);
    expect_int_eq(delete_colliding(t, 9, 1), FG_KEYTABLE_FOUND);
    expect_int_eq(put_colliding(t, 9, 2, "b2"), FG_OK);
    expect_int_eq(fg_keytable_count(t), 1);
    expect_str_eq(colliding_name(t, 9, 2, &got), "b2");
    while (fg_keytable_next(t, &cursor, &got) == FG_KEYTABLE_FOUND) {
        visits++;
    }
    expect_int_eq(visits, 1);
    expect_int_eq(delete_colliding(t, 9, 2), FG_KEYTABLE_FOUND);
    expect_str_eq(colliding_name(t, 9, 2, &got), "");
    expect_int_eq(fg_keytable_count(t), 0);
    table_free(&tb);
}

static void
new_key_reuses_the_first_tombstone_of_its_probe(void)
{
    table_t             tb;
    fg_keytable_t      *t = table_new(&tb, 100);
    fg_keytable_stats_t st;
    fg_key_record_t     got;

    expect_int_eq(put_colliding(t, 3, 1, "a"), FG_OK);
    expect_int_eq(put_colliding(t, 3, 2, "b"), FG_OK);
    expect_int_eq(delete_colliding(t, 3, 1), FG_KEYTABLE_FOUND);
    fg_keytable_stats(t, &st);
    expect_int_eq(st.tombstones, 1);
    expect_int_eq(put_colliding(t, 3, 4, "d"), FG_OK);
    fg_keytable_stats(t, &st);
    expect_int_eq(st.tombstones, 0);
    expect_int_eq(st.count, 2);
    expect_str_eq(colliding_name(t, 3, 2, &got), "b");
    expect_str_eq(colliding_name(t, 3, 4, &got), "d");
    table_free(&tb);
}

/* In a table of 8 slots, keys homed at slot 7 continue at slot 0. */
static void
probe_wraps_from_the_last_slot_to_the_first(void)
{
    table_t          tb;
    fg_keytable_t   *t = table_new(&tb, 4);
    fg_key_record_t  got;

    expect_int_eq(t->kt_index_slots, 8);
    expect_int_eq(put_colliding(t, 7, 1, "a"), FG_OK);
    expect_int_eq(put_colliding(t, 7, 2, "b"), FG_OK);
    expect_int_eq(put_colliding(t, 7, 3, "c"), FG_OK);
    expect_int_eq(put_colliding(t, 15, 4, "d"), FG_OK);   /* 15 & 7 */
    expect_str_eq(colliding_name(t, 7, 1, &got), "a");
    expect_str_eq(colliding_name(t, 7, 2, &got), "b");
    expect_str_eq(colliding_name(t, 7, 3, &got), "c");
    expect_str_eq(colliding_name(t, 15, 4, &got), "d");
    expect_int_eq(delete_colliding(t, 7, 1), FG_KEYTABLE_FOUND);
    expect_str_eq(colliding_name(t, 7, 3, &got), "c");
    expect_str_eq(colliding_name(t, 15, 4, &got), "d");
    table_free(&tb);
}

/* ---- capacity, tombstones, compaction ------------------------------ */

static void
fill_to_capacity_and_check(uint32_t max_keys)
{
    table_t          tb;
    fg_keytable_t   *t = table_new(&tb, max_keys);
    fg_key_record_t  rec, got;
    fg_err_t         err;
    uint64_t         n;
    uint32_t         bad = 0;

    for (n = 0; n < max_keys; n++) {
        bad += put_key(t, n) != FG_OK;
    }
    expect_int_eq(bad, 0);
    expect_int_eq(fg_keytable_count(t), max_keys);

    record_for(&rec, max_keys);
    memset(&err, 0, sizeof(err));
    expect_int_eq(fg_keytable_put(t, &rec, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_INTERNAL);
    expect_true(strstr(err.msg, "full") != NULL);
    expect_int_eq(fg_keytable_count(t), max_keys);
    expect_int_eq(fg_keytable_lookup(t, rec.kr_hash, &got),
                  FG_KEYTABLE_NOT_FOUND);

    /* A full table still takes replacements (the spare version). */
    record_for(&rec, 0);
    rec.kr_balance_micro = 77;
    expect_int_eq(fg_keytable_put(t, &rec, &err), FG_OK);
    expect_int_eq(fg_keytable_lookup(t, rec.kr_hash, &got),
                  FG_KEYTABLE_FOUND);
    expect_int_eq(got.kr_balance_micro, 77);

    for (n = 1; n < max_keys; n++) {
        bad += !has_key(t, n);
    }
    expect_int_eq(bad, 0);
    table_free(&tb);
}

static void
table_of_1000_takes_exactly_1000_keys(void)
{
    fill_to_capacity_and_check(1000);
}

static void
table_of_100000_takes_exactly_100000_keys(void)
{
    fill_to_capacity_and_check(100000);
}

static void
table_of_one_key_takes_one_and_replaces_it(void)
{
    fill_to_capacity_and_check(1);
}

/* Full table, then rounds of deleting a varying half and inserting as
 * many new keys: every round compacts, and the table ends full with
 * exactly the expected keys. */
static void
delete_and_reinsert_at_capacity_keeps_every_live_key(void)
{
    enum { MAX = 1000, ROUNDS = 12 };
    table_t             tb;
    fg_keytable_t      *t = table_new(&tb, MAX);
    fg_keytable_stats_t st;
    uint8_t            *live = calloc(MAX * (ROUNDS + 1), 1);
    uint32_t           *seen = calloc(MAX * (ROUNDS + 1), sizeof(*seen));
    uint64_t            n, next = MAX, total = MAX * (ROUNDS + 1);
    uint32_t            round, bad = 0, deleted;

    for (n = 0; n < MAX; n++) {
        bad += put_key(t, n) != FG_OK;
        live[n] = 1;
    }
    for (round = 0; round < ROUNDS; round++) {
        deleted = 0;
        for (n = 0; n < next; n++) {
            if (live[n] && (n + round) % 2 == 0) {
                bad += delete_key(t, n) != FG_KEYTABLE_FOUND;
                live[n] = 0;
                deleted++;
            }
        }
        while (deleted-- > 0) {
            bad += put_key(t, next) != FG_OK;
            live[next++] = 1;
        }
        bad += put_key(t, next + 1000000) == FG_OK;    /* full */
        bad += fg_keytable_count(t) != MAX;
    }
    expect_int_eq(bad, 0);

    fg_keytable_stats(t, &st);
    expect_true(st.compactions >= ROUNDS);
    expect_true(st.tombstones <= st.index_slots / 8);
    for (n = 0; n < next; n++) {
        if (live[n]) {
            bad += !has_key(t, n);
        } else {
            bad += lookup_key(t, n) != FG_KEYTABLE_NOT_FOUND;
        }
    }
    expect_int_eq(bad, 0);
    expect_int_eq(iterate_counting(t, seen, total), MAX);
    for (n = 0; n < total; n++) {
        bad += seen[n] != live[n];
    }
    expect_int_eq(bad, 0);
    free(live);
    free(seen);
    table_free(&tb);
}

/* 8 slots: the second tombstone passes an eighth and compacts. */
static void
compaction_clears_tombstones_and_keeps_live_keys(void)
{
    table_t             tb;
    fg_keytable_t      *t = table_new(&tb, 4);
    fg_keytable_stats_t st;
    uint64_t            n;

    for (n = 0; n < 4; n++) {
        expect_int_eq(put_key(t, n), FG_OK);
    }
    expect_int_eq(delete_key(t, 0), FG_KEYTABLE_FOUND);
    fg_keytable_stats(t, &st);
    expect_int_eq(st.tombstones, 1);
    expect_int_eq(st.compactions, 0);
    expect_int_eq(delete_key(t, 2), FG_KEYTABLE_FOUND);
    fg_keytable_stats(t, &st);
    expect_int_eq(st.tombstones, 0);
    expect_int_eq(st.compactions, 1);
    expect_int_eq(st.count, 2);
    expect_true(has_key(t, 1));
    expect_true(has_key(t, 3));
    expect_int_eq(lookup_key(t, 0), FG_KEYTABLE_NOT_FOUND);
    expect_int_eq(lookup_key(t, 2), FG_KEYTABLE_NOT_FOUND);
    expect_int_eq(put_key(t, 0), FG_OK);
    expect_int_eq(put_key(t, 2), FG_OK);
    expect_int_eq(put_key(t, 9), FG_ERR);
    table_free(&tb);
}

/* ---- iteration ------------------------------------------------------ */

static void
next_visits_every_live_key_exactly_once(void)
{
    enum { N = 700 };
    table_t          tb;
    fg_keytable_t   *t = table_new(&tb, 1000);
    uint32_t         seen[N], bad = 0;
    uint64_t         n;

    for (n = 0; n < N; n++) {
        expect_int_eq(put_key(t, n), FG_OK);
    }
    for (n = 0; n < N; n += 3) {
        expect_int_eq(delete_key(t, n), FG_KEYTABLE_FOUND);
    }
    for (n = 1; n < N; n += 3) {
        expect_int_eq(put_key(t, n), FG_OK);    /* replacements */
    }
    expect_int_eq(iterate_counting(t, seen, N), N - (N + 2) / 3);
    for (n = 0; n < N; n++) {
        bad += seen[n] != (n % 3 != 0);
    }
    expect_int_eq(bad, 0);
    table_free(&tb);
}

static void
next_ends_and_stays_ended(void)
{
    table_t          tb;
    fg_keytable_t   *t = table_new(&tb, 10);
    fg_key_record_t  rec;
    uint32_t         cursor = 0;

    expect_int_eq(fg_keytable_next(t, &cursor, &rec), FG_KEYTABLE_NOT_FOUND);
    expect_int_eq(put_key(t, 1), FG_OK);
    cursor = 0;
    expect_int_eq(fg_keytable_next(t, &cursor, &rec), FG_KEYTABLE_FOUND);
    expect_int_eq(rec.kr_created_ms, 1);
    expect_int_eq(fg_keytable_next(t, &cursor, &rec), FG_KEYTABLE_NOT_FOUND);
    expect_int_eq(fg_keytable_next(t, &cursor, &rec), FG_KEYTABLE_NOT_FOUND);
    table_free(&tb);
}

/* ---- recovery after the writer died --------------------------------- */

static void
recover_repairs_bookkeeping_a_dead_writer_left(void)
{
    enum { MAX = 64 };
    table_t             tb;
    fg_keytable_t      *t = table_new(&tb, MAX);
    fg_keytable_stats_t st;
    uint64_t            n;
    uint32_t            bad = 0;

    for (n = 0; n < 40; n++) {
        expect_int_eq(put_key(t, n), FG_OK);
    }
    for (n = 0; n < 5; n++) {
        expect_int_eq(delete_key(t, n), FG_KEYTABLE_FOUND);
    }
    t->kt_free_top = 0;
    atomic_store(&t->kt_count, 3);
    atomic_store(&t->kt_tombstones, 12345);
    expect_int_eq(put_key(t, 100), FG_ERR);    /* stack looks empty */
    atomic_store(&t->kt_writer_busy, 1);       /* died inside a write */

    fg_keytable_recover(t);
    fg_keytable_stats(t, &st);
    expect_int_eq(st.writer_busy, 0);
    expect_int_eq(st.count, 35);
    expect_int_eq(st.tombstones, 5);
    for (n = 5; n < 40; n++) {
        bad += !has_key(t, n);
    }
    for (n = 100; n < 100 + MAX - 35; n++) {
        bad += put_key(t, n) != FG_OK;
    }
    expect_int_eq(bad, 0);
    expect_int_eq(fg_keytable_count(t), MAX);
    expect_int_eq(put_key(t, 999), FG_ERR);
    for (n = 5; n < 40; n++) {
        bad += !has_key(t, n);
    }
    for (n = 100; n < 100 + MAX - 35; n++) {
        bad += !has_key(t, n);
    }
    expect_int_eq(bad, 0);
    table_free(&tb);
}

/* A writer that died after popping a version and before publishing it
 * lost that version: a full table then has no spare for a replacement
 * until recovery puts it back. */
static void
recover_reclaims_a_version_popped_but_never_published(void)
{
    table_t          tb;
    fg_keytable_t   *t = table_new(&tb, 8);
    fg_key_record_t  rec, got;
    fg_err_t         err;
    uint64_t         n;

    for (n = 0; n < 8; n++) {
        expect_int_eq(put_key(t, n), FG_OK);
    }
    expect_int_eq(t->kt_free_top, 1);
    t->kt_free_top--;                        /* popped, then died */
    atomic_store(&t->kt_writer_busy, 1);

    record_for(&rec, 3);
    rec.kr_balance_micro = 5;
    expect_int_eq(fg_keytable_put(t, &rec, &err), FG_ERR);
    fg_keytable_recover(t);
    expect_int_eq(t->kt_free_top, 1);
    expect_int_eq(fg_keytable_put(t, &rec, &err), FG_OK);
    expect_int_eq(fg_keytable_lookup(t, rec.kr_hash, &got),
                  FG_KEYTABLE_FOUND);
    expect_int_eq(got.kr_balance_micro, 5);
    table_free(&tb);
}

/* A free stack that names live versions would let the next put overwrite
 * another key's record; recovery rebuilds it from the published index. */
static void
recover_never_frees_a_live_version(void)
{
    enum { MAX = 32 };
    table_t         tb;
    fg_keytable_t  *t = table_new(&tb, MAX);
    uint32_t       *stack = (uint32_t *) ((char *) t + t->kt_free_offset);
    uint32_t        i, bad = 0;
    uint64_t        n;

    for (n = 0; n < MAX / 2; n++) {
        expect_int_eq(put_key(t, n), FG_OK);
    }
    for (i = 0; i < t->kt_versions; i++) {
        stack[i] = 0;                        /* version of a live key */
    }
    t->kt_free_top = t->kt_versions;

    fg_keytable_recover(t);
    expect_int_eq(t->kt_free_top, t->kt_versions - MAX / 2);
    for (n = 100; n < 100 + MAX / 2; n++) {
        bad += put_key(t, n) != FG_OK;
    }
    for (n = 0; n < MAX / 2; n++) {
        bad += put_key(t, n) != FG_OK;       /* replace each once */
    }
    for (n = 0; n < MAX / 2; n++) {
        bad += !has_key(t, n) + !has_key(t, 100 + n);
    }
    expect_int_eq(bad, 0);
    table_free(&tb);
}

/* The header keeps kt_stamp in the block so that recovery can repair it;
 * a repeated stamp could make a reader take a rewritten word for the one
 * it read. */
static void
recover_restarts_stamps_above_every_published_one(void)
{
    table_t        tb;
    fg_keytable_t *t = table_new(&tb, 16);
    uint64_t       n, published;

    for (n = 0; n < 16; n++) {
        expect_int_eq(put_key(t, n), FG_OK);
    }
    for (n = 0; n < 16; n += 2) {
        expect_int_eq(put_key(t, n), FG_OK);
    }
    expect_int_eq(delete_key(t, 5), FG_KEYTABLE_FOUND);
    published = max_published_stamp(t);
    expect_true(published > 0);
    t->kt_stamp = 0;

    fg_keytable_recover(t);
    expect_true(t->kt_stamp >= published);
    expect_int_eq(put_key(t, 5), FG_OK);
    expect_true(max_published_stamp(t) > published);
    table_free(&tb);
}

static void
recover_of_a_healthy_table_changes_nothing(void)
{
    table_t             tb;
    fg_keytable_t      *t = table_new(&tb, 100);
    fg_keytable_stats_t before, after;
    uint32_t            top;
    uint64_t            n, stamp;

    for (n = 0; n < 60; n++) {
        expect_int_eq(put_key(t, n), FG_OK);
    }
    for (n = 0; n < 60; n += 7) {
        expect_int_eq(delete_key(t, n), FG_KEYTABLE_FOUND);
    }
    fg_keytable_stats(t, &before);
    top = t->kt_free_top;
    stamp = t->kt_stamp;
    fg_keytable_recover(t);
    fg_keytable_stats(t, &after);
    expect_int_eq(after.count, before.count);
    expect_int_eq(after.tombstones, before.tombstones);
    expect_int_eq(after.compactions, before.compactions);
    expect_int_eq(after.writer_busy, 0);
    expect_int_eq(t->kt_free_top, top);
    expect_int_eq(t->kt_stamp, stamp);
    for (n = 0; n < 60; n++) {
        expect_int_eq(lookup_key(t, n), n % 7 == 0 ? FG_KEYTABLE_NOT_FOUND
                                                   : FG_KEYTABLE_FOUND);
    }
    table_free(&tb);
}

/* A free-stack top beyond the stack must be refused, not followed out of
 * the block. */
static void
put_refuses_a_free_stack_top_out_of_range(void)
{
    table_t          tb;
    fg_keytable_t   *t = table_new(&tb, 100);
    fg_key_record_t  rec;
    fg_err_t         err;

    expect_int_eq(put_key(t, 1), FG_OK);
    t->kt_free_top = 0x7fffffffu;
    record_for(&rec, 2);
    memset(&err, 0, sizeof(err));
    expect_int_eq(fg_keytable_put(t, &rec, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_INTERNAL);
    expect_int_eq(atomic_load(&t->kt_writer_busy), 0);
    fg_keytable_recover(t);
    expect_int_eq(fg_keytable_put(t, &rec, &err), FG_OK);
    expect_true(has_key(t, 1));
    expect_true(has_key(t, 2));
    table_free(&tb);
}

/* ---- record rules --------------------------------------------------- */

static void
validate_accepts_a_minimal_record(void)
{
    fg_key_record_t rec;
    fg_err_t        err;

    record_for(&rec, 1);
    expect_int_eq(fg_key_record_validate(&rec, &err), FG_OK);
}

static void
validate_refuses_an_unknown_status(void)
{
    static const uint32_t bad[] = { 0, FG_KEY_STATUS_ROTATED + 1, UINT32_MAX };
    fg_key_record_t       rec;
    fg_err_t              err;
    size_t                i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        record_for(&rec, 1);
        rec.kr_status = bad[i];
        memset(&err, 0, sizeof(err));
        expect_int_eq(fg_key_record_validate(&rec, &err), FG_ERR);
        expect_int_eq(err.code, FG_E_INVALID_VALUE);
        expect_str_eq(err.param, "status");
    }
    record_for(&rec, 1);
    rec.kr_status = FG_KEY_STATUS_REVOKED;
    expect_int_eq(fg_key_record_validate(&rec, &err), FG_OK);
}

static void
validate_refuses_unterminated_strings_naming_the_field(void)
{
    fg_key_record_t rec;
    fg_err_t        err;

    record_for(&rec, 1);
    memset(rec.kr_id, 'i', sizeof(rec.kr_id));
    expect_int_eq(fg_key_record_validate(&rec, &err), FG_ERR);
    expect_str_eq(err.param, "id");

    record_for(&rec, 1);
    memset(rec.kr_name, 'n', sizeof(rec.kr_name));
    expect_int_eq(fg_key_record_validate(&rec, &err), FG_ERR);
    expect_str_eq(err.param, "name");

    record_for(&rec, 1);
    memset(rec.kr_owner, 'o', sizeof(rec.kr_owner));
    expect_int_eq(fg_key_record_validate(&rec, &err), FG_ERR);
    expect_str_eq(err.param, "owner");

    record_for(&rec, 1);
    memset(rec.kr_metadata, 'm', sizeof(rec.kr_metadata));
    expect_int_eq(fg_key_record_validate(&rec, &err), FG_ERR);
    expect_str_eq(err.param, "metadata");

    record_for(&rec, 1);
    memset(rec.kr_metadata, 'm', sizeof(rec.kr_metadata) - 1);
    expect_int_eq(fg_key_record_validate(&rec, &err), FG_OK);
}

static void
validate_refuses_an_empty_id(void)
{
    fg_key_record_t rec;
    fg_err_t        err;

    record_for(&rec, 1);
    rec.kr_id[0] = '\0';
    expect_int_eq(fg_key_record_validate(&rec, &err), FG_ERR);
    expect_str_eq(err.param, "id");
}

static void
validate_refuses_bad_model_lists(void)
{
    fg_key_record_t rec;
    fg_err_t        err;
    int             i;

    record_for(&rec, 1);
    rec.kr_models_count = FG_KEY_RECORD_MODELS_MAX + 1;
    expect_int_eq(fg_key_record_validate(&rec, &err), FG_ERR);
    expect_str_eq(err.param, "models");

    record_for(&rec, 1);
    rec.kr_models_count = 1;                 /* an empty pattern */
    expect_int_eq(fg_key_record_validate(&rec, &err), FG_ERR);
    expect_str_eq(err.param, "models");

    record_for(&rec, 1);
    rec.kr_models_count = 1;
    memset(rec.kr_models[0], 'x', FG_KEY_RECORD_MODEL_SIZE);
    expect_int_eq(fg_key_record_validate(&rec, &err), FG_ERR);

    record_for(&rec, 1);
    rec.kr_models_count = 1;
    strcpy(rec.kr_models[0], "gpt-*");
    expect_int_eq(fg_key_record_validate(&rec, &err), FG_ERR);

    record_for(&rec, 1);
    rec.kr_models_count = FG_KEY_RECORD_MODELS_MAX;
    for (i = 0; i < FG_KEY_RECORD_MODELS_MAX; i++) {
        snprintf(rec.kr_models[i], FG_KEY_RECORD_MODEL_SIZE, "m%d", i);
    }
    expect_int_eq(fg_key_record_validate(&rec, &err), FG_OK);
}

static void
validate_refuses_an_unknown_transform_bit(void)
{
    fg_key_record_t rec;
    fg_err_t        err;

    record_for(&rec, 1);
    rec.kr_transforms = FG_KEY_TRANSFORM_MIDDLE_OUT;
    expect_int_eq(fg_key_record_validate(&rec, &err), FG_OK);
    rec.kr_transforms = FG_KEY_TRANSFORM_MIDDLE_OUT << 1;
    memset(&err, 0, sizeof(err));
    expect_int_eq(fg_key_record_validate(&rec, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_INVALID_VALUE);
    expect_str_eq(err.param, "transforms");
    rec.kr_transforms = 0xff;
    expect_int_eq(fg_key_record_validate(&rec, &err), FG_ERR);
}

static void
transform_names_parse_exactly_and_name_one_bit(void)
{
    expect_int_eq(fg_key_transform_parse("middle-out", 10),
                  FG_KEY_TRANSFORM_MIDDLE_OUT);
    /* @len bounds the name: a prefix or a longer run is not it. */
    expect_int_eq(fg_key_transform_parse("middle-outer", 10),
                  FG_KEY_TRANSFORM_MIDDLE_OUT);
    expect_int_eq(fg_key_transform_parse("middle-out", 9), 0);
    expect_int_eq(fg_key_transform_parse("middle-outer", 12), 0);
    expect_int_eq(fg_key_transform_parse("Middle-Out", 10), 0);
    expect_int_eq(fg_key_transform_parse("", 0), 0);
    expect_str_eq(fg_key_transform_name(FG_KEY_TRANSFORM_MIDDLE_OUT),
                  "middle-out");
    expect_true(fg_key_transform_name(0) == NULL);
    expect_true(fg_key_transform_name(FG_KEY_TRANSFORM_MIDDLE_OUT << 1)
                == NULL);
    expect_true(fg_key_transform_name(FG_KEY_TRANSFORMS_KNOWN | 0x80u)
                == NULL);
}

static void
validate_refuses_every_negative_number_naming_it(void)
{
    static const char *const names[] = {
        "created", "updated", "expires", "grace_until", "requests_per_min",
        "tokens_per_min", "max_concurrent", "balance_micro",
        "regen_per_hour_micro", "cap_micro"
    };
    fg_key_record_t rec;
    fg_err_t        err;
    int64_t        *fields[10];
    size_t          i;

    for (i = 0; i < 10; i++) {
        record_for(&rec, 1);
        fields[0] = &rec.kr_created_ms;
        fields[1] = &rec.kr_updated_ms;
        fields[2] = &rec.kr_expires_ms;
        fields[3] = &rec.kr_grace_until_ms;
        fields[4] = &rec.kr_requests_per_min;
        fields[5] = &rec.kr_tokens_per_min;
        fields[6] = &rec.kr_max_concurrent;
        fields[7] = &rec.kr_balance_micro;
        fields[8] = &rec.kr_regen_per_hour_micro;
        fields[9] = &rec.kr_cap_micro;
        *fields[i] = i % 2 ? -1 : INT64_MIN;
        memset(&err, 0, sizeof(err));
        expect_int_eq(fg_key_record_validate(&rec, &err), FG_ERR);
        expect_int_eq(err.code, FG_E_OUT_OF_RANGE);
        expect_str_eq(err.param, names[i]);
    }
}

static void
put_refuses_an_invalid_record_and_changes_nothing(void)
{
    table_t             tb;
    fg_keytable_t      *t = table_new(&tb, 10);
    fg_keytable_stats_t st;
    fg_key_record_t     rec, got;
    fg_err_t            err;

    record_for(&rec, 1);
    expect_int_eq(fg_keytable_put(t, &rec, &err), FG_OK);
    rec.kr_status = 0;
    rec.kr_balance_micro = 9;
    memset(&err, 0, sizeof(err));
    expect_int_eq(fg_keytable_put(t, &rec, &err), FG_ERR);
    expect_str_eq(err.param, "status");
    record_for(&rec, 2);
    rec.kr_tokens_per_min = -5;
    expect_int_eq(fg_keytable_put(t, &rec, &err), FG_ERR);
    expect_str_eq(err.param, "tokens_per_min");

    fg_keytable_stats(t, &st);
    expect_int_eq(st.count, 1);
    expect_int_eq(st.writer_busy, 0);
    expect_true(has_key(t, 1));
    expect_int_eq(fg_keytable_lookup(t, rec.kr_hash, &got),
                  FG_KEYTABLE_NOT_FOUND);
    table_free(&tb);
}

static void
set_str_takes_a_value_that_fits_and_refuses_a_longer_one(void)
{
    fg_key_record_t rec;
    fg_err_t        err;
    char            fits[FG_KEY_RECORD_NAME_SIZE], too_long[600];

    record_for(&rec, 1);
    memset(fits, 'f', sizeof(fits) - 1);
    fits[sizeof(fits) - 1] = '\0';
    expect_int_eq(FG_KEY_RECORD_SET(&rec, name, fits, &err), FG_OK);
    expect_str_eq(rec.kr_name, fits);

    memset(too_long, 'x', sizeof(too_long) - 1);
    too_long[sizeof(too_long) - 1] = '\0';
    too_long[FG_KEY_RECORD_NAME_SIZE] = '\0';    /* one byte too long */
    memset(&err, 0, sizeof(err));
    expect_int_eq(FG_KEY_RECORD_SET(&rec, name, too_long, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_OUT_OF_RANGE);
    expect_str_eq(err.param, "name");
    expect_str_eq(rec.kr_name, fits);

    too_long[FG_KEY_RECORD_NAME_SIZE] = 'x';
    expect_int_eq(FG_KEY_RECORD_SET(&rec, metadata, too_long, &err), FG_ERR);
    expect_str_eq(err.param, "metadata");
    expect_true(strstr(err.msg, "599") != NULL);
    expect_true(strstr(err.msg, "511") != NULL);
}

/* ---- fg_key_record_check -------------------------------------------- */

static void
check_active_key_is_ok_until_it_expires(void)
{
    fg_key_record_t rec;

    record_for(&rec, 1);
    expect_int_eq(fg_key_record_check(&rec, 0), FG_KEY_CHECK_OK);
    expect_int_eq(fg_key_record_check(&rec, INT64_MAX), FG_KEY_CHECK_OK);
    rec.kr_expires_ms = 1000;
    expect_int_eq(fg_key_record_check(&rec, 999), FG_KEY_CHECK_OK);
    expect_int_eq(fg_key_record_check(&rec, 1000), FG_KEY_CHECK_EXPIRED);
    expect_int_eq(fg_key_record_check(&rec, 5000), FG_KEY_CHECK_EXPIRED);
}

static void
check_revoked_key_is_revoked_whatever_its_times(void)
{
    fg_key_record_t rec;

    record_for(&rec, 1);
    rec.kr_status = FG_KEY_STATUS_REVOKED;
    expect_int_eq(fg_key_record_check(&rec, 0), FG_KEY_CHECK_REVOKED);
    rec.kr_expires_ms = 10;
    expect_int_eq(fg_key_record_check(&rec, 20), FG_KEY_CHECK_REVOKED);
    rec.kr_status = 0;
    expect_int_eq(fg_key_record_check(&rec, 0), FG_KEY_CHECK_REVOKED);
    rec.kr_status = 99;
    expect_int_eq(fg_key_record_check(&rec, 0), FG_KEY_CHECK_REVOKED);
}

static void
check_rotated_key_is_ok_until_its_grace_ends(void)
{
    fg_key_record_t rec;

    record_for(&rec, 1);
    rec.kr_status = FG_KEY_STATUS_ROTATED;
    rec.kr_grace_until_ms = 500;
    expect_int_eq(fg_key_record_check(&rec, 499), FG_KEY_CHECK_OK);
    expect_int_eq(fg_key_record_check(&rec, 500), FG_KEY_CHECK_ROTATED);
    expect_int_eq(fg_key_record_check(&rec, 501), FG_KEY_CHECK_ROTATED);
    rec.kr_expires_ms = 300;
    expect_int_eq(fg_key_record_check(&rec, 400), FG_KEY_CHECK_EXPIRED);
    rec.kr_grace_until_ms = 0;
    rec.kr_expires_ms = 0;
    expect_int_eq(fg_key_record_check(&rec, 0), FG_KEY_CHECK_ROTATED);
}

/* ---- model patterns -------------------------------------------------- */

static void
record_with_models(fg_key_record_t *rec, const char *const *patterns,
                   size_t n)
{
    fg_err_t err;
    size_t   i;

    record_for(rec, 1);
    for (i = 0; i < n; i++) {
        if (fg_key_record_add_model(rec, patterns[i], &err) != FG_OK) {
            FG_TEST_FAIL("add_model(\"%s\"): %s", patterns[i], err.msg);
        }
    }
}

static void
empty_model_list_allows_every_model(void)
{
    fg_key_record_t rec;

    record_with_models(&rec, NULL, 0);
    expect_int_eq(fg_keytable_matches_model(&rec, "anything", NULL), 1);
    expect_int_eq(fg_keytable_matches_model(&rec, "a/b", "p"), 1);
}

static void
star_pattern_allows_every_model(void)
{
    static const char *const p[] = { "gpt-4o", "*" };
    fg_key_record_t          rec;

    record_with_models(&rec, p, 2);
    expect_int_eq(fg_keytable_matches_model(&rec, "mistral-large", NULL), 1);
    expect_int_eq(fg_keytable_matches_model(&rec, "x/y", "z"), 1);
}

static void
exact_pattern_allows_only_that_id(void)
{
    static const char *const p[] = { "gpt-4o" };
    fg_key_record_t          rec;

    record_with_models(&rec, p, 1);
    expect_int_eq(fg_keytable_matches_model(&rec, "gpt-4o", "openai"), 1);
    expect_int_eq(fg_keytable_matches_model(&rec, "gpt-4o", NULL), 1);
    expect_int_eq(fg_keytable_matches_model(&rec, "gpt-4o-mini", NULL), 0);
    expect_int_eq(fg_keytable_matches_model(&rec, "gpt-4", NULL), 0);
    expect_int_eq(fg_keytable_matches_model(&rec, "GPT-4O", NULL), 0);
    expect_int_eq(fg_keytable_matches_model(&rec, "", NULL), 0);
}

static void
provider_pattern_matches_by_provider_id(void)
{
    static const char *const p[] = { "openai/*" };
    fg_key_record_t          rec;

    record_with_models(&rec, p, 1);
    expect_int_eq(fg_keytable_matches_model(&rec, "gpt-4o", "openai"), 1);
    expect_int_eq(fg_keytable_matches_model(&rec, "gpt-4o", "openai2"), 0);
    expect_int_eq(fg_keytable_matches_model(&rec, "gpt-4o", "open"), 0);
    expect_int_eq(fg_keytable_matches_model(&rec, "gpt-4o", ""), 0);
    expect_int_eq(fg_keytable_matches_model(&rec, "gpt-4o", NULL), 0);
}

static void
provider_pattern_matches_by_model_prefix(void)
{
    static const char *const p[] = { "openai/*" };
    fg_key_record_t          rec;

    record_with_models(&rec, p, 1);
    expect_int_eq(fg_keytable_matches_model(&rec, "openai/gpt-4o", NULL), 1);
    expect_int_eq(fg_keytable_matches_model(&rec, "openai/gpt-4o", "demo"),
                  1);
    expect_int_eq(fg_keytable_matches_model(&rec, "openai/", NULL), 0);
    expect_int_eq(fg_keytable_matches_model(&rec, "openai", NULL), 0);
    expect_int_eq(fg_keytable_matches_model(&rec, "openaix/gpt", NULL), 0);
    expect_int_eq(fg_keytable_matches_model(&rec, "mistral/openai/x", NULL),
                  0);
}

static void
no_pattern_matching_refuses_the_model(void)
{
    static const char *const p[] = { "gpt-4o", "mistral/*", "demo-chat" };
    fg_key_record_t          rec;

    record_with_models(&rec, p, 3);
    expect_int_eq(fg_keytable_matches_model(&rec, "gpt-4o-mini", "openai"),
                  0);
    expect_int_eq(fg_keytable_matches_model(&rec, "*", NULL), 0);
    expect_int_eq(fg_keytable_matches_model(&rec, "demo-chat", "demo"), 1);
    expect_int_eq(fg_keytable_matches_model(&rec, "large", "mistral"), 1);
}

static void
add_model_refuses_bad_patterns_and_keeps_the_list(void)
{
    static const char *const bad[] = {
        "", "a*", "*a", "**", "/*", "gpt-*", "openai/*x", "a/*/b", "*/*",
        "has space", "tab\there", "new\nline", "caf\xc3\xa9"
    };
    fg_key_record_t rec;
    fg_err_t        err;
    char            long_pattern[FG_KEY_RECORD_MODEL_SIZE + 1];
    size_t          i;

    record_for(&rec, 1);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&err, 0, sizeof(err));
        if (fg_key_record_add_model(&rec, bad[i], &err) != FG_ERR) {
            FG_TEST_FAIL("pattern \"%s\" was accepted", bad[i]);
        }
        expect_str_eq(err.param, "models");
    }
    expect_int_eq(rec.kr_models_count, 0);

    memset(long_pattern, 'm', sizeof(long_pattern) - 1);
    long_pattern[sizeof(long_pattern) - 1] = '\0';
    expect_int_eq(fg_key_record_add_model(&rec, long_pattern, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_OUT_OF_RANGE);
    long_pattern[FG_KEY_RECORD_MODEL_SIZE - 1] = '\0';   /* 63: fits */
    expect_int_eq(fg_key_record_add_model(&rec, long_pattern, &err), FG_OK);
    expect_int_eq(fg_key_record_add_model(&rec, "a/b/*", &err), FG_OK);
    expect_int_eq(rec.kr_models_count, 2);
}

static void
add_model_refuses_a_ninth_pattern(void)
{
    fg_key_record_t rec;
    fg_err_t        err;
    char            p[32];
    int             i;

    record_for(&rec, 1);
    for (i = 0; i < FG_KEY_RECORD_MODELS_MAX; i++) {
        snprintf(p, sizeof(p), "model-%d", i);
        expect_int_eq(fg_key_record_add_model(&rec, p, &err), FG_OK);
    }
    memset(&err, 0, sizeof(err));
    expect_int_eq(fg_key_record_add_model(&rec, "one-more", &err), FG_ERR);
    expect_int_eq(err.code, FG_E_OUT_OF_RANGE);
    expect_int_eq(rec.kr_models_count, FG_KEY_RECORD_MODELS_MAX);
    expect_int_eq(fg_keytable_matches_model(&rec, "one-more", NULL), 0);
    expect_int_eq(fg_keytable_matches_model(&rec, "model-7", NULL), 1);
    expect_int_eq(fg_key_record_validate(&rec, &err), FG_OK);
}

/* ---- a reader process against the writer ----------------------------- */

/* @prefix then @v in 16 hex digits, NUL-terminated. */
static void
hex_field(char *dst, const char *prefix, uint64_t v)
{
    size_t n = strlen(prefix);
    int    i;

    memcpy(dst, prefix, n);
    for (i = 15; i >= 0; i--) {
        dst[n++] = "0123456789abcdef"[(v >> (4 * i)) & 15];
    }
    dst[n] = '\0';
}

/*
 * Every byte of the record is a function of @c (the rest zeroed), spread
 * over the whole record, so a copy that mixes two writes cannot pass
 * record_is_whole(). Cheap, so that both processes spend their time in
 * the table rather than here.
 */
static void
record_for_counter(fg_key_record_t *rec, const uint8_t *hash, uint64_t c)
{
    uint32_t i;
    char     prefix[4] = { 'm', 0, '-', 0 };

    memset(rec, 0, sizeof(*rec));
    memcpy(rec->kr_hash, hash, FG_KEY_HASH_BYTES);
    hex_field(rec->kr_id, "key_", c);
    hex_field(rec->kr_name, "name-", c);
    hex_field(rec->kr_owner, "owner-", c * 7);
    rec->kr_status = c % 2 ? FG_KEY_STATUS_ACTIVE : FG_KEY_STATUS_ROTATED;
    rec->kr_created_ms = (int64_t) c;
    rec->kr_updated_ms = (int64_t) c + 1;
    rec->kr_expires_ms = (int64_t) c + 2;
    rec->kr_grace_until_ms = (int64_t) c + 3;
    rec->kr_requests_per_min = (int64_t) c + 4;
    rec->kr_tokens_per_min = (int64_t) c + 5;
    rec->kr_max_concurrent = (int64_t) c + 6;
    rec->kr_balance_micro = (int64_t) c + 7;
    rec->kr_regen_per_hour_micro = (int64_t) c + 8;
    rec->kr_cap_micro = (int64_t) c + 9;
    rec->kr_models_count = (uint32_t) (c % (FG_KEY_RECORD_MODELS_MAX + 1));
    for (i = 0; i < rec->kr_models_count; i++) {
        prefix[1] = (char) ('0' + i);
        hex_field(rec->kr_models[i], prefix, c);
    }
    memset(rec->kr_metadata, 'a' + (int) (c % 26),
           FG_KEY_RECORD_METADATA_SIZE - 1);
}

static int
record_is_whole(const fg_key_record_t *rec)
{
    fg_key_record_t want;

    if (rec->kr_created_ms < 0) {
        return 0;
    }
    record_for_counter(&want, rec->kr_hash, (uint64_t) rec->kr_created_ms);
    return memcmp(&want, rec, sizeof(want)) == 0;
}

static int
put_counter(fg_keytable_t *t, const uint8_t *hash, uint64_t c)
{
    fg_key_record_t rec;
    fg_err_t        err;

    record_for_counter(&rec, hash, c);
    return fg_keytable_put(t, &rec, &err);
}

/* What the reader saw, in the shared control page. */
typedef struct {
    _Atomic int      ready;
    _Atomic int      done;
    _Atomic uint64_t lookups;
    _Atomic uint64_t busy;
    _Atomic uint64_t missing;
    _Atomic uint64_t torn;
    _Atomic uint64_t went_back;
    _Atomic uint64_t listed;
    _Atomic uint64_t final_counter;
    _Atomic int      final_result;
    _Atomic uint64_t stalls;
    _Atomic int      stalled;            /* the reader is in race_stall */
    _Atomic int      resume;             /* the writer lets it go on */
    int              list_every;         /* 0: lookups only */
    int              stall;              /* SIGUSR1 stalls the reader */
} race_t;

#define RACE_READS_MAX 200000000u   /* a bound; the writer ends far sooner */

#define RACE_WAIT_SPINS 20000000  /* sched_yield()s before giving up */

static race_t *race_shared;

/*
 * SIGUSR1 in the reader: wherever the reader was (in the middle of a
 * probe, say), it says so and waits there until the writer lets it go.
 */
static void
race_stall(int sig)
{
    int spins;

    (void) sig;
    atomic_store(&race_shared->stalled, 1);
    for (spins = 0; spins < RACE_WAIT_SPINS
                    && !atomic_load(&race_shared->resume)
                    && !atomic_load(&race_shared->done); spins++) {
        sched_yield();
    }
    atomic_store(&race_shared->resume, 0);
    atomic_store(&race_shared->stalled, 0);
    atomic_fetch_add(&race_shared->stalls, 1);
}

/*
 * The reader: attaches like a worker, looks the key up until the writer
 * is done, and every r->list_every-th time lists the whole table with
 * fg_keytable_next(). Counters in @r; exits 0 unless it could not attach.
 */
static void
race_reader(void *mem, size_t bytes, const uint8_t *hash, race_t *r)
{
    const fg_keytable_t  *t;
    fg_key_record_t       rec;
    fg_keytable_result_t  res;
    fg_err_t              err;
    uint64_t              last = 0, c;
    uint32_t              i, cursor;
    int                   tries;

    t = fg_keytable_attach(mem, bytes, &err);
    if (t == NULL) {
        _exit(2);
    }
    if (r->stall) {
        struct sigaction sa;

        race_shared = r;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = race_stall;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        if (sigaction(SIGUSR1, &sa, NULL) != 0) {
            _exit(3);
        }
    }
    atomic_store(&r->ready, 1);
    for (i = 0; i < RACE_READS_MAX && !atomic_load(&r->done); i++) {
        res = fg_keytable_lookup(t, hash, &rec);
        atomic_fetch_add(&r->lookups, 1);
        if (res == FG_KEYTABLE_BUSY) {
            atomic_fetch_add(&r->busy, 1);
        } else if (res == FG_KEYTABLE_NOT_FOUND) {
            atomic_fetch_add(&r->missing, 1);
        } else if (!record_is_whole(&rec)
                   || memcmp(rec.kr_hash, hash, FG_KEY_HASH_BYTES) != 0) {
            atomic_fetch_add(&r->torn, 1);
        } else {
            c = (uint64_t) rec.kr_created_ms;
            if (c < last) {
                atomic_fetch_add(&r->went_back, 1);
            }
            last = c;
        }
        if (r->list_every == 0 || i % (uint32_t) r->list_every != 0) {
            continue;
        }
        cursor = 0;
        for (tries = 0; tries < 100000; tries++) {
            res = fg_keytable_next(t, &cursor, &rec);
            if (res == FG_KEYTABLE_NOT_FOUND) {
                break;
            }
            if (res == FG_KEYTABLE_FOUND) {
                atomic_fetch_add(&r->listed, 1);
                if (!record_is_whole(&rec)) {
                    atomic_fetch_add(&r->torn, 1);
                }
            }
        }
    }
    res = fg_keytable_lookup(t, hash, &rec);
    atomic_store(&r->final_result, (int) res);
    if (res == FG_KEYTABLE_FOUND && record_is_whole(&rec)) {
        atomic_store(&r->final_counter, (uint64_t) rec.kr_created_ms);
    }
    _exit(0);
}

static pid_t
race_start(table_t *tb, const uint8_t *hash, race_t *r)
{
    pid_t pid;
    int   spins, status;

    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        FG_TEST_FAIL("fork failed: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        race_reader(tb->mem, tb->bytes, hash, r);
    }
    /* Let the reader start, so that the writes overlap its reads. */
    for (spins = 0; !atomic_load(&r->ready) && spins < 10000000; spins++) {
        if (waitpid(pid, &status, WNOHANG) != 0) {
            break;
        }
        sched_yield();
    }
    return pid;
}

static void
race_finish(pid_t pid, race_t *r, uint64_t final_counter)
{
    int status = 0;

    atomic_store(&r->done, 1);
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
        FG_TEST_FAIL("no reader to wait for");
        return;
    }
    expect_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    expect_int_eq(atomic_load(&r->torn), 0);
    expect_int_eq(atomic_load(&r->went_back), 0);
    expect_int_eq(atomic_load(&r->missing), 0);
    expect_int_eq(atomic_load(&r->final_result), FG_KEYTABLE_FOUND);
    expect_int_eq(atomic_load(&r->final_counter), final_counter);
    if (getenv("FG_TEST_VERBOSE") != NULL) {
        fprintf(stderr, "    reader: %llu lookups, %llu busy, %llu listed, "
                "%llu stalls\n",
                (unsigned long long) atomic_load(&r->lookups),
                (unsigned long long) atomic_load(&r->busy),
                (unsigned long long) atomic_load(&r->listed),
                (unsigned long long) atomic_load(&r->stalls));
    }
}

static int
reader_alive(pid_t pid)
{
    int status;

    return waitpid(pid, &status, WNOHANG) == 0;
}

/* Whether a wait that has spun @spins times should stop. */
static int
race_gave_up(pid_t pid, int spins)
{
    return spins >= RACE_WAIT_SPINS
           || (spins % 1024 == 0 && !reader_alive(pid));
}

/* Spins until *@flag is set; 0 if the reader died or never did it. */
static int
race_wait_flag(pid_t pid, _Atomic int *flag)
{
    int spins;

    for (spins = 0; !atomic_load(flag); spins++) {
        if (race_gave_up(pid, spins)) {
            return 0;
        }
        sched_yield();
    }
    return 1;
}

static void
race_wait_lookups(pid_t pid, race_t *r, uint64_t n)
{
    int spins;

    for (spins = 0; atomic_load(&r->lookups) < n; spins++) {
        if (race_gave_up(pid, spins)) {
            return;
        }
        sched_yield();
    }
}

/*
 * Stops the reader wherever it is, after it did lookups in the table's
 * present state (on one CPU it would otherwise still be in a lookup begun
 * earlier). 0 if it could not.
 */
static int
race_stop_reader(pid_t pid, race_t *r)
{
    race_wait_lookups(pid, r, atomic_load(&r->lookups) + 2);
    kill(pid, SIGUSR1);
    return race_wait_flag(pid, &r->stalled);
}

/* Lets the stopped reader go on, and waits until it finished the lookup
 * it was in and one more. */
static void
race_release_reader(pid_t pid, race_t *r)
{
    uint64_t n = atomic_load(&r->lookups);

    atomic_store(&r->resume, 1);
    race_wait_lookups(pid, r, n + 2);
}

/*
 * One key in a table of one: there are two record versions, so every
 * write reuses the version the previous write retired, the one a slow
 * reader is most likely still copying.
 */
static void
reader_never_sees_a_torn_record_while_the_writer_rewrites_it(void)
{
    enum { WRITES = 60000 };
    table_t  tb;
    race_t  *r = map_shared(sizeof(race_t));
    uint8_t  hash[FG_KEY_HASH_BYTES];
    uint64_t c;
    uint32_t bad = 0;
    pid_t    pid;

    r->list_every = 64;
    table_new(&tb, 1);
    hash_of(77, hash);
    expect_int_eq(put_counter(tb.t, hash, 1), FG_OK);
    pid = race_start(&tb, hash, r);
    for (c = 2; c <= WRITES; c++) {
        bad += put_counter(tb.t, hash, c) != FG_OK;
    }
    expect_int_eq(bad, 0);
    race_finish(pid, r, WRITES);
    munmap(r, sizeof(race_t));
    table_free(&tb);
}

/*
 * The same with the reader stopped by a signal wherever it is (often in
 * the middle of copying a version) while the writer puts twice: the
 * second put rewrites the very version the reader was copying, in the
 * same slot, so only the stamp in the index word tells the reader that
 * its copy is spoiled.
 */
static void
reader_stalled_mid_copy_never_returns_a_torn_record(void)
{
    enum { ROUNDS = 60 };
    table_t  tb;
    race_t  *r = map_shared(sizeof(race_t));
    uint8_t  hash[FG_KEY_HASH_BYTES];
    uint64_t c = 1;
    uint32_t bad = 0, round, stopped = 0;
    pid_t    pid;

    r->list_every = 2;
    r->stall = 1;
    table_new(&tb, 1);
    hash_of(78, hash);
    bad += put_counter(tb.t, hash, c) != FG_OK;
    pid = race_start(&tb, hash, r);
    for (round = 0; round < ROUNDS && pid > 0; round++) {
        if (!race_stop_reader(pid, r)) {
            break;
        }
        stopped++;
        bad += put_counter(tb.t, hash, ++c) != FG_OK;
        bad += put_counter(tb.t, hash, ++c) != FG_OK;
        race_release_reader(pid, r);
    }
    expect_int_eq(bad, 0);
    expect_int_eq(stopped, ROUNDS);
    race_finish(pid, r, c);
    munmap(r, sizeof(race_t));
    table_free(&tb);
}

/*
 * The watched key S shares its home slot with 20 others that are deleted
 * and put back every round, so S's probe runs through tombstones and
 * words that change, and every round compacts (rebuilding the index a
 * reader may still be probing). The home is near the end of the index so
 * that the cluster wraps: compaction walks the old index from slot 0, so
 * it reorders a wrapped cluster and S moves back and forth along its
 * probe. S is replaced every round but never deleted: the reader must
 * never find it missing.
 */
static void
reader_never_misses_a_key_that_stays_while_others_churn(void)
{
    enum { MAX = 64, OTHERS = 20, HOME = 120, ROUNDS = 4000 };
    table_t             tb;
    race_t             *r = map_shared(sizeof(race_t));
    uint8_t             s[FG_KEY_HASH_BYTES], h[OTHERS][FG_KEY_HASH_BYTES];
    fg_keytable_stats_t st;
    uint64_t            c = 1;
    uint32_t            bad = 0, round, j;
    pid_t               pid;

    r->list_every = 64;
    table_new(&tb, MAX);
    for (j = 0; j < OTHERS; j++) {
        colliding_hash(HOME, 1000 + j, h[j]);
        bad += put_counter(tb.t, h[j], c) != FG_OK;
    }
    colliding_hash(HOME, 1, s);
    bad += put_counter(tb.t, s, c) != FG_OK;
    pid = race_start(&tb, s, r);
    for (round = 0; round < ROUNDS; round++) {
        c++;
        for (j = 0; j < OTHERS; j++) {
            bad += fg_keytable_delete(tb.t, h[(j + round) % OTHERS])
                   != FG_KEYTABLE_FOUND;
            if (j % 5 == 0) {
                bad += put_counter(tb.t, s, c) != FG_OK;
            }
        }
        for (j = 0; j < OTHERS; j++) {
            bad += put_counter(tb.t, h[j], c) != FG_OK;
        }
    }
    expect_int_eq(bad, 0);
    fg_keytable_stats(tb.t, &st);
    expect_true(st.compactions >= ROUNDS);
    race_finish(pid, r, c);
    munmap(r, sizeof(race_t));
    table_free(&tb);
}

static int
put_all(fg_keytable_t *t, uint8_t (*h)[FG_KEY_HASH_BYTES], uint32_t from,
        uint32_t to, uint64_t c)
{
    uint32_t j, bad = 0;

    for (j = from; j < to; j++) {
        bad += put_counter(t, h[j], c) != FG_OK;
    }
    return bad;
}

static int
delete_all(fg_keytable_t *t, uint8_t (*h)[FG_KEY_HASH_BYTES], uint32_t from,
           uint32_t to)
{
    uint32_t j, bad = 0;

    for (j = from; j < to; j++) {
        bad += fg_keytable_delete(t, h[j]) != FG_KEYTABLE_FOUND;
    }
    return bad;
}

/*
 * A lookup that spans two compactions probes an index that was rebuilt
 * under it; an EMPTY word it then meets says nothing about the key. To
 * make that happen on purpose, all keys share home slot 127 of 128 and
 * each round goes:
 *
 *   1) others O0..O19 go in at slots 0..19 behind S (at 127), 17 extras
 *      after them; deleting the extras compacts, and compaction walks the
 *      old index from slot 0, so O0..O19 land at 127, 0..18 and S last,
 *      at slot 19: a lookup of S probes 20 other words first.
 *   2) Once the reader has done lookups in that state (on one CPU it
 *      would otherwise still be in a lookup begun before 1), SIGUSR1
 *      stops it wherever it is, often inside that probe.
 *   3) Deleting O0..O16 compacts (S moves to slot 2); deleting O17..O19
 *      and 17 more extras compacts again, which rebuilds the index the
 *      stopped reader was probing with S alone at 127: every slot it was
 *      about to read is EMPTY.
 *   4) The reader goes on; it must find S (after restarting), and the
 *      writer waits for two more lookups before the next round.
 */
static void
reader_stalled_mid_probe_never_misses_a_key(void)
{
    enum { MAX = 64, OTHERS = 20, EXTRAS = 17, HOME = 127, ROUNDS = 50 };
    table_t             tb;
    race_t             *r = map_shared(sizeof(race_t));
    uint8_t             s[FG_KEY_HASH_BYTES];
    uint8_t             o[OTHERS][FG_KEY_HASH_BYTES];
    uint8_t             x[EXTRAS][FG_KEY_HASH_BYTES];
    fg_keytable_stats_t st;
    uint64_t            c = 1, compactions;
    uint32_t            bad = 0, round, j, stopped = 0;
    pid_t               pid;

    r->stall = 1;
    table_new(&tb, MAX);
    expect_int_eq(tb.t->kt_index_slots, 128);
    for (j = 0; j < OTHERS; j++) {
        colliding_hash(HOME, 2000 + j, o[j]);
    }
    for (j = 0; j < EXTRAS; j++) {
        colliding_hash(HOME, 3000 + j, x[j]);
    }
    colliding_hash(HOME, 1, s);
    bad += put_counter(tb.t, s, c) != FG_OK;
    pid = race_start(&tb, s, r);

    for (round = 0; round < ROUNDS && pid > 0; round++) {
        c++;
        fg_keytable_stats(tb.t, &st);
        compactions = st.compactions;
        bad += put_all(tb.t, o, 0, OTHERS, c);                    /* 1 */
        bad += put_all(tb.t, x, 0, EXTRAS, c);
        bad += put_counter(tb.t, s, c) != FG_OK;
        bad += delete_all(tb.t, x, 0, EXTRAS);

        if (!race_stop_reader(pid, r)) {                          /* 2 */
            break;
        }
        stopped++;
        bad += delete_all(tb.t, o, 0, EXTRAS);                    /* 3 */
        bad += delete_all(tb.t, o, EXTRAS, OTHERS);
        bad += put_all(tb.t, x, 0, EXTRAS, c);
        bad += delete_all(tb.t, x, 0, EXTRAS);
        fg_keytable_stats(tb.t, &st);
        bad += st.compactions != compactions + 3 || st.count != 1;

        race_release_reader(pid, r);                              /* 4 */
    }
    expect_int_eq(bad, 0);
    expect_int_eq(stopped, ROUNDS);
    race_finish(pid, r, c);
    munmap(r, sizeof(race_t));
    table_free(&tb);
}

FG_TEST_MAIN("keytable",
    FG_TEST_CASE(bytes_is_zero_out_of_range),
    FG_TEST_CASE(bytes_covers_header_indexes_free_stack_and_versions_in_64s),
    FG_TEST_CASE(init_lays_out_an_empty_table),
    FG_TEST_CASE(init_refuses_max_keys_out_of_range),
    FG_TEST_CASE(init_refuses_a_block_one_byte_too_small_and_leaves_it),
    FG_TEST_CASE(init_refuses_a_block_not_8_byte_aligned),
    FG_TEST_CASE(attach_accepts_the_table_init_made),
    FG_TEST_CASE(attach_refuses_a_zeroed_block_and_a_bad_magic),
    FG_TEST_CASE(attach_refuses_another_layout_version_header_or_record_size),
    FG_TEST_CASE(attach_refuses_a_block_smaller_than_the_table),
    FG_TEST_CASE(attach_refuses_sizes_that_disagree_with_max_keys),
    FG_TEST_CASE(attach_refuses_index_or_offsets_that_disagree_with_max_keys),
    FG_TEST_CASE(attach_refuses_a_block_not_8_byte_aligned),
    FG_TEST_CASE(put_then_lookup_returns_every_field),
    FG_TEST_CASE(lookup_of_an_absent_key_leaves_out_untouched),
    FG_TEST_CASE(lookup_needs_every_hash_byte_to_match),
    FG_TEST_CASE(put_of_the_same_hash_replaces_the_record),
    FG_TEST_CASE(delete_removes_only_that_key_and_reports_absent_keys),
    FG_TEST_CASE(probe_walks_past_a_tombstone_to_a_colliding_key),
    FG_TEST_CASE(replace_behind_a_tombstone_keeps_a_single_copy),
    FG_TEST_CASE(new_key_reuses_the_first_tombstone_of_its_probe),
    FG_TEST_CASE(probe_wraps_from_the_last_slot_to_the_first),
    FG_TEST_CASE(table_of_1000_takes_exactly_1000_keys),
    FG_TEST_CASE(table_of_100000_takes_exactly_100000_keys),
    FG_TEST_CASE(table_of_one_key_takes_one_and_replaces_it),
    FG_TEST_CASE(delete_and_reinsert_at_capacity_keeps_every_live_key),
    FG_TEST_CASE(compaction_clears_tombstones_and_keeps_live_keys),
    FG_TEST_CASE(next_visits_every_live_key_exactly_once),
    FG_TEST_CASE(next_ends_and_stays_ended),
    FG_TEST_CASE(recover_repairs_bookkeeping_a_dead_writer_left),
    FG_TEST_CASE(recover_reclaims_a_version_popped_but_never_published),
    FG_TEST_CASE(recover_never_frees_a_live_version),
    FG_TEST_CASE(recover_restarts_stamps_above_every_published_one),
    FG_TEST_CASE(recover_of_a_healthy_table_changes_nothing),
    FG_TEST_CASE(put_refuses_a_free_stack_top_out_of_range),
    FG_TEST_CASE(validate_accepts_a_minimal_record),
    FG_TEST_CASE(validate_refuses_an_unknown_status),
    FG_TEST_CASE(validate_refuses_unterminated_strings_naming_the_field),
    FG_TEST_CASE(validate_refuses_an_empty_id),
    FG_TEST_CASE(validate_refuses_bad_model_lists),
    FG_TEST_CASE(validate_refuses_every_negative_number_naming_it),
    FG_TEST_CASE(validate_refuses_an_unknown_transform_bit),
    FG_TEST_CASE(transform_names_parse_exactly_and_name_one_bit),
    FG_TEST_CASE(put_refuses_an_invalid_record_and_changes_nothing),
    FG_TEST_CASE(set_str_takes_a_value_that_fits_and_refuses_a_longer_one),
    FG_TEST_CASE(check_active_key_is_ok_until_it_expires),
    FG_TEST_CASE(check_revoked_key_is_revoked_whatever_its_times),
    FG_TEST_CASE(check_rotated_key_is_ok_until_its_grace_ends),
    FG_TEST_CASE(empty_model_list_allows_every_model),
    FG_TEST_CASE(star_pattern_allows_every_model),
    FG_TEST_CASE(exact_pattern_allows_only_that_id),
    FG_TEST_CASE(provider_pattern_matches_by_provider_id),
    FG_TEST_CASE(provider_pattern_matches_by_model_prefix),
    FG_TEST_CASE(no_pattern_matching_refuses_the_model),
    FG_TEST_CASE(add_model_refuses_bad_patterns_and_keeps_the_list),
    FG_TEST_CASE(add_model_refuses_a_ninth_pattern),
    FG_TEST_CASE(reader_never_sees_a_torn_record_while_the_writer_rewrites_it),
    FG_TEST_CASE(reader_stalled_mid_copy_never_returns_a_torn_record),
    FG_TEST_CASE(reader_never_misses_a_key_that_stays_while_others_churn),
    FG_TEST_CASE(reader_stalled_mid_probe_never_misses_a_key))
