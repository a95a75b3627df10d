#ifndef FG_TESTS_UNIT_FG_TEST_H
#define FG_TESTS_UNIT_FG_TEST_H

/*
 * A unit-test harness the size of Redis's testhelp.h. Each test is a static
 * void function named for one behaviour; a file lists them in FG_TEST_MAIN.
 * expect_* record a failure with file:line and both values and go on; the
 * binary prints one "ok"/"not ok" line per test and a closing line
 * "N passed, N failed", and exits non-zero if any test failed.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fg_test_failures_in_case;

#define FG_TEST_FAIL(...)                                                   \
    do {                                                                    \
        fprintf(stderr, "    %s:%d: ", __FILE__, __LINE__);                 \
        fprintf(stderr, __VA_ARGS__);                                       \
        fprintf(stderr, "\n");                                              \
        fg_test_failures_in_case++;                                         \
    } while (0)

#define expect_true(e)                                                      \
    do {                                                                    \
        if (!(e)) {                                                         \
            FG_TEST_FAIL("expected true: %s", #e);                          \
        }                                                                   \
    } while (0)

#define expect_int_eq(a, b)                                                 \
    do {                                                                    \
        long long fg_a_ = (long long) (a), fg_b_ = (long long) (b);         \
        if (fg_a_ != fg_b_) {                                               \
            FG_TEST_FAIL("%s == %s: got %lld, expected %lld", #a, #b,       \
                         fg_a_, fg_b_);                                     \
        }                                                                   \
    } while (0)

#define expect_str_eq(a, b)                                                 \
    do {                                                                    \
        const char *fg_a_ = (a), *fg_b_ = (b);                              \
        if (fg_a_ == NULL || fg_b_ == NULL || strcmp(fg_a_, fg_b_) != 0) {  \
            FG_TEST_FAIL("%s == %s: got \"%s\", expected \"%s\"", #a, #b,   \
                         fg_a_ ? fg_a_ : "(null)",                          \
                         fg_b_ ? fg_b_ : "(null)");                         \
        }                                                                   \
    } while (0)

typedef struct {
    const char *name;
    void      (*fn)(void);
} fg_test_case_t;

#define FG_TEST_CASE(fn) { #fn, fn }

static inline int
fg_test_run(const char *suite, const fg_test_case_t *cases, size_t n)
{
    size_t i, passed = 0, failed = 0;

    for (i = 0; i < n; i++) {
        fg_test_failures_in_case = 0;
        cases[i].fn();
        if (fg_test_failures_in_case == 0) {
            passed++;
            printf("ok - %s: %s\n", suite, cases[i].name);
        } else {
            failed++;
            printf("not ok - %s: %s\n", suite, cases[i].name);
        }
    }
    printf("%zu passed, %zu failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

#define FG_TEST_MAIN(suite, ...)                                            \
    int                                                                     \
    main(void)                                                              \
    {                                                                       \
        static const fg_test_case_t fg_cases_[] = { __VA_ARGS__ };          \
        return fg_test_run(suite, fg_cases_,                                \
                           sizeof(fg_cases_) / sizeof(fg_cases_[0]));       \
    }

#endif
