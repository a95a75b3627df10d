/*
 * test_subjects.c: the subject tables and the regions the ledger and the
 * limiter share: sizes and their bounds, the layout init writes, and the
 * lock-free enter-or-find.
 */

#include "common/accounts/subjects.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/fg_test.h"

typedef struct {
    _Atomic uint64_t subject;
    uint64_t         value;
} entry_t;

static const fg_subjects_layout_t layout = {
    .name = "test",
    .magic = 0x7473657474736574ULL,
    .entry_bytes = sizeof(entry_t),
    .owner_bytes = 100,
    .min_owners = 2,
};

static void
subjects_slots_are_a_power_of_two_at_least_twice_the_subjects(void)
{
    expect_int_eq(fg_subjects_slots_for(1), 64);
    expect_int_eq(fg_subjects_slots_for(32), 64);
    expect_int_eq(fg_subjects_slots_for(33), 128);
    expect_int_eq(fg_subjects_slots_for(1000), 2048);
}

static void
region_bytes_are_header_entries_and_owner_slots(void)
{
    expect_int_eq(fg_subjects_region_bytes(&layout, 100, 3),
                  64 + 256 * sizeof(entry_t) + 3 * 100);
}

static void
region_bytes_are_zero_out_of_range(void)
{
    expect_int_eq(fg_subjects_region_bytes(&layout, 0, 2), 0);
    expect_int_eq(fg_subjects_region_bytes(&layout, (1u << 28) + 1, 2), 0);
    expect_int_eq(fg_subjects_region_bytes(&layout, 10, 1), 0);
}

static void
region_init_lays_entries_then_each_owners_slots_after_the_header(void)
{
    size_t                bytes = fg_subjects_region_bytes(&layout, 10, 2);
    void                 *mem = aligned_alloc(64, (bytes + 63) / 64 * 64);
    fg_err_t              err;
    fg_subjects_region_t *r;

    memset(mem, 0, bytes);
    r = fg_subjects_region_init(&layout, mem, bytes, 10, 2, &err);
    expect_true(r == mem);
    expect_true(r->magic == layout.magic);
    expect_int_eq(r->entries, 64);
    expect_int_eq(r->owners, 2);
    expect_true((char *) fg_subjects_region_entries(r) == (char *) mem + 64);
    expect_true((char *) fg_subjects_region_slots(r, 0, layout.owner_bytes)
                == (char *) mem + 64 + 64 * sizeof(entry_t));
    expect_true((char *) fg_subjects_region_slots(r, 1, layout.owner_bytes)
                == (char *) mem + 64 + 64 * sizeof(entry_t) + 100);
    expect_true((char *) fg_subjects_region_slots(r, 1, layout.owner_bytes)
                + 100 == (char *) mem + bytes);
    free(mem);
}

static void
region_init_refuses_memory_too_small_or_misaligned_naming_the_region(void)
{
    size_t   bytes = fg_subjects_region_bytes(&layout, 10, 2);
    char    *mem = aligned_alloc(64, (bytes + 127) / 64 * 64);
    fg_err_t err;

    memset(mem, 0, bytes + 64);
    expect_true(fg_subjects_region_init(&layout, mem, bytes - 1, 10, 2, &err)
                == NULL);
    expect_str_eq(err.msg, "test region of 1287 bytes, need 1288, "
                           "64-byte aligned");
    expect_true(fg_subjects_region_init(&layout, mem + 8, bytes, 10, 2,
                                        &err) == NULL);
    expect_true(fg_subjects_region_init(&layout, mem, bytes, 10, 1, &err)
                == NULL);
    free(mem);
}

static void
subjects_find_enters_once_and_finds_the_same_entry_again(void)
{
    entry_t  table[64];
    entry_t *a, *b;
    uint32_t ia = 99, ib = 99;

    memset(table, 0, sizeof(table));
    expect_true(fg_subjects_find(table, sizeof(entry_t), 64, 42, 0, &ia)
                == NULL);
    a = fg_subjects_find(table, sizeof(entry_t), 64, 42, 1, &ia);
    b = fg_subjects_find(table, sizeof(entry_t), 64, 42, 0, &ib);
    expect_true(a != NULL && a == b && ia == ib);
    expect_true(a == &table[ia]);
    expect_true(fg_subjects_find(table, sizeof(entry_t), 64, 43, 1, &ib)
                != a);
}

static void
subjects_find_never_enters_subject_zero_nor_into_a_full_table(void)
{
    entry_t  table[64];
    uint32_t i, index;
    int      entered = 0;

    memset(table, 0, sizeof(table));
    expect_true(fg_subjects_find(table, sizeof(entry_t), 64, 0, 1, &index)
                == NULL);
    for (i = 1; i <= 64; i++) {
        entered += fg_subjects_find(table, sizeof(entry_t), 64, i, 1,
                                    &index) != NULL;
    }
    expect_int_eq(entered, 64);
    expect_true(fg_subjects_find(table, sizeof(entry_t), 64, 65, 1, &index)
                == NULL);
    expect_true(fg_subjects_find(table, sizeof(entry_t), 64, 64, 0, &index)
                != NULL);
}

FG_TEST_MAIN("subjects",
    FG_TEST_CASE(subjects_slots_are_a_power_of_two_at_least_twice_the_subjects),
    FG_TEST_CASE(region_bytes_are_header_entries_and_owner_slots),
    FG_TEST_CASE(region_bytes_are_zero_out_of_range),
    FG_TEST_CASE(region_init_lays_entries_then_each_owners_slots_after_the_header),
    FG_TEST_CASE(region_init_refuses_memory_too_small_or_misaligned_naming_the_region),
    FG_TEST_CASE(subjects_find_enters_once_and_finds_the_same_entry_again),
    FG_TEST_CASE(subjects_find_never_enters_subject_zero_nor_into_a_full_table))
