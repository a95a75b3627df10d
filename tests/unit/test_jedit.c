/*
 * test_jedit.c: span edits to a JSON text, applied in one copy; members
 * cut with their commas so that what remains is valid JSON. Texts are
 * written with ' for " so they read like the JSON they are.
 */

#include "common/wire/jedit.h"

#include <stdlib.h>
#include <string.h>

#include "tests/unit/fg_test.h"

static char *
jedit_quotes(const char *s)
{
    size_t i, n = strlen(s);
    char  *out = malloc(n + 1);

    for (i = 0; i <= n; i++) {
        out[i] = s[i] == '\'' ? '"' : s[i];
    }
    return out;
}

/* Keys whose names start with 'x' go. */
static int
jedit_drop_x(const fg_jdoc_t *doc, int key, void *arg)
{
    (void) arg;
    return doc->buf[doc->nodes[key].start + 1] == 'x';
}

/* @text (' for ") with the x-members of its root object cut. Returns a
 * malloc'd result with " written as ', and checks it parses. */
static char *
jedit_cut_x(const char *text, size_t *cut)
{
    char       *src = jedit_quotes(text), *out;
    fg_jdoc_t   doc, check;
    fg_jedits_t l = FG_JEDITS_INIT;
    size_t      len, i;

    if (fg_jdoc_parse(&doc, src, strlen(src), 16, NULL) != FG_OK) {
        FG_TEST_FAIL("does not parse: %s", text);
        free(src);
        return NULL;
    }
    *cut = fg_jedits_cut_members(&l, &doc, 0, jedit_drop_x, NULL);
    out = fg_jedits_dup(&l, src, strlen(src), &len);
    expect_int_eq(len, strlen(out));
    if (fg_jdoc_parse(&check, out, len, 16, NULL) != FG_OK) {
        FG_TEST_FAIL("the result does not parse: %s", out);
    } else {
        fg_jdoc_free(&check);
    }
    fg_jdoc_free(&doc);
    fg_jedits_free(&l);
    free(src);
    for (i = 0; i < len; i++) {
        out[i] = out[i] == '"' ? '\'' : out[i];
    }
    return out;
}

static void
jedit_cut_of_a_middle_member_takes_its_comma(void)
{
    size_t n;
    char  *out = jedit_cut_x("{'a':1,'x':2,'b':3}", &n);

    expect_str_eq(out, "{'a':1,'b':3}");
    expect_int_eq(n, 1);
    free(out);
}

static void
jedit_cut_of_the_first_member_takes_the_comma_after(void)
{
    size_t n;
    char  *out = jedit_cut_x("{'x':[1,2], 'a':1}", &n);

    expect_str_eq(out, "{'a':1}");
    free(out);
}

static void
jedit_cut_of_the_last_member_takes_the_comma_before(void)
{
    size_t n;
    char  *out = jedit_cut_x("{'a':1 , 'x':{'y':2}}", &n);

    expect_str_eq(out, "{'a':1}");
    free(out);
}

static void
jedit_cut_of_two_adjacent_last_members_leaves_no_comma(void)
{
    size_t n;
    char  *out = jedit_cut_x("{'a':1,'x1':2,'x2':3}", &n);

    expect_str_eq(out, "{'a':1}");
    expect_int_eq(n, 2);
    free(out);
}

static void
jedit_cut_of_separate_runs_keeps_the_members_between(void)
{
    size_t n;
    char  *out = jedit_cut_x("{'x1':0,'a':1,'x2':2,'x3':3,'b':4,'x4':5}", &n);

    expect_str_eq(out, "{'a':1,'b':4}");
    expect_int_eq(n, 4);
    free(out);
}

static void
jedit_cut_of_every_member_leaves_an_empty_object(void)
{
    size_t n;
    char  *out = jedit_cut_x("{ 'x1':0, 'x2':'}' }", &n);

    expect_str_eq(out, "{ }");
    free(out);
}

static void
jedit_cut_of_nothing_leaves_the_text_as_it_was(void)
{
    size_t n;
    char  *out = jedit_cut_x("{'a':1, 'b':[1,2]}", &n);

    expect_str_eq(out, "{'a':1, 'b':[1,2]}");
    expect_int_eq(n, 0);
    free(out);
}

static void
jedit_replacements_apply_in_position_order_whatever_the_order_added(void)
{
    const char *src = "0123456789";
    fg_jedits_t l = FG_JEDITS_INIT;
    size_t      len;
    char       *out, *owned = malloc(2);

    owned[0] = 'Z';
    owned[1] = '\0';
    fg_jedits_add(&l, 8, 1, "E", 1);
    fg_jedits_add(&l, 2, 2, "", 0);
    fg_jedits_add_owned(&l, 5, 0, owned, 1);
    fg_jedits_add(&l, 0, 0, "[", 1);
    expect_int_eq(fg_jedits_length(&l, 10), 10);
    out = fg_jedits_dup(&l, src, 10, &len);
    expect_str_eq(out, "[014Z567E9");
    free(out);
    fg_jedits_free(&l);
    expect_int_eq(l.n, 0);
}

static void
jedit_an_insertion_goes_before_a_cut_at_its_position_whenever_added(void)
{
    fg_jedits_t l = FG_JEDITS_INIT;
    size_t      len;
    char       *out;

    fg_jedits_add(&l, 2, 3, "", 0);         /* cut "234" */
    fg_jedits_add(&l, 2, 0, "<", 1);        /* insert at 2, added after */
    out = fg_jedits_dup(&l, "0123456789", 10, &len);
    expect_str_eq(out, "01<56789");
    free(out);
    fg_jedits_free(&l);
}

FG_TEST_MAIN("jedit",
    FG_TEST_CASE(jedit_cut_of_a_middle_member_takes_its_comma),
    FG_TEST_CASE(jedit_cut_of_the_first_member_takes_the_comma_after),
    FG_TEST_CASE(jedit_cut_of_the_last_member_takes_the_comma_before),
    FG_TEST_CASE(jedit_cut_of_two_adjacent_last_members_leaves_no_comma),
    FG_TEST_CASE(jedit_cut_of_separate_runs_keeps_the_members_between),
    FG_TEST_CASE(jedit_cut_of_every_member_leaves_an_empty_object),
    FG_TEST_CASE(jedit_cut_of_nothing_leaves_the_text_as_it_was),
    FG_TEST_CASE(jedit_replacements_apply_in_position_order_whatever_the_order_added),
    FG_TEST_CASE(jedit_an_insertion_goes_before_a_cut_at_its_position_whenever_added))
