/*
 * test_idindex.c: the find-by-id index the catalog and the impact tables
 * share: every name added is found, nothing else is, the first entry of a
 * name stays, and growth keeps all of them.
 */

#include "common/base/idindex.h"

#include <stdio.h>
#include <string.h>

#include "tests/unit/fg_test.h"

static void
idindex_finds_each_name_added(void)
{
    fg_idindex_t ix;

    fg_idindex_init(&ix);
    expect_int_eq(fg_idindex_add(&ix, "gpt-4o", 0), 1);
    expect_int_eq(fg_idindex_add(&ix, "gpt-4o-mini", 1), 1);
    expect_int_eq(fg_idindex_add(&ix, "", 2), 1);
    expect_int_eq(fg_idindex_find(&ix, "gpt-4o"), 0);
    expect_int_eq(fg_idindex_find(&ix, "gpt-4o-mini"), 1);
    expect_int_eq(fg_idindex_find(&ix, ""), 2);
    fg_idindex_cleanup(&ix);
}

static void
idindex_finds_nothing_for_a_name_not_added(void)
{
    fg_idindex_t ix;

    fg_idindex_init(&ix);
    expect_true(fg_idindex_find(&ix, "a") == FG_IDINDEX_NONE);
    fg_idindex_add(&ix, "a", 0);
    expect_true(fg_idindex_find(&ix, "A") == FG_IDINDEX_NONE);
    expect_true(fg_idindex_find(&ix, "a ") == FG_IDINDEX_NONE);
    expect_true(fg_idindex_find(&ix, "") == FG_IDINDEX_NONE);
    fg_idindex_cleanup(&ix);
}

static void
idindex_keeps_the_first_entry_of_a_repeated_name(void)
{
    fg_idindex_t ix;

    fg_idindex_init(&ix);
    expect_int_eq(fg_idindex_add(&ix, "p", 3), 1);
    expect_int_eq(fg_idindex_add(&ix, "p", 7), 0);
    expect_int_eq(fg_idindex_find(&ix, "p"), 3);
    expect_int_eq(ix.count, 1);
    fg_idindex_cleanup(&ix);
}

static void
idindex_finds_a_name_by_length_inside_a_longer_string(void)
{
    fg_idindex_t ix;

    fg_idindex_init(&ix);
    fg_idindex_add(&ix, "openrouter", 5);
    expect_int_eq(fg_idindex_find_len(&ix, "openrouter/openai/x", 10), 5);
    expect_true(fg_idindex_find_len(&ix, "openrouter/openai/x", 9)
                == FG_IDINDEX_NONE);
    fg_idindex_cleanup(&ix);
}

static void
idindex_keeps_every_name_as_it_grows(void)
{
    fg_idindex_t ix;
    char         name[32];
    size_t       i, missing = 0;

    fg_idindex_init(&ix);
    for (i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "model-%zu", i);
        fg_idindex_add(&ix, name, i);
    }
    expect_true(ix.slot_count >= 2 * ix.count);
    for (i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "model-%zu", i);
        missing += fg_idindex_find(&ix, name) != i;
    }
    expect_int_eq(missing, 0);
    expect_true(fg_idindex_find(&ix, "model-5000") == FG_IDINDEX_NONE);
    fg_idindex_cleanup(&ix);
}

static void
idindex_is_empty_again_after_cleanup(void)
{
    fg_idindex_t ix;

    fg_idindex_init(&ix);
    fg_idindex_add(&ix, "a", 0);
    fg_idindex_cleanup(&ix);
    expect_int_eq(ix.count, 0);
    expect_true(fg_idindex_find(&ix, "a") == FG_IDINDEX_NONE);
    fg_idindex_cleanup(&ix);
}

FG_TEST_MAIN("idindex",
    FG_TEST_CASE(idindex_finds_each_name_added),
    FG_TEST_CASE(idindex_finds_nothing_for_a_name_not_added),
    FG_TEST_CASE(idindex_keeps_the_first_entry_of_a_repeated_name),
    FG_TEST_CASE(idindex_finds_a_name_by_length_inside_a_longer_string),
    FG_TEST_CASE(idindex_keeps_every_name_as_it_grows),
    FG_TEST_CASE(idindex_is_empty_again_after_cleanup))
