#ifndef FG_TESTS_UNIT_TOKENIZER_H
#define FG_TESTS_UNIT_TOKENIZER_H

/*
 * The shipped o200k_base tokenizer, loaded once for a unit-test binary
 * (and never freed: the process ends with it). A test that cannot load
 * it cannot say anything, so it exits.
 */

#include <stdio.h>
#include <stdlib.h>

#include "common/tokens/bpe.h"

static fg_bpe_t *fg_test_o200k_bpe;

static inline const fg_bpe_t *
fg_test_o200k(void)
{
    fg_err_t err;

    if (fg_test_o200k_bpe == NULL) {
        fg_test_o200k_bpe = fg_bpe_load(FG_SYSCONFDIR
                                        "/tokenizers/o200k_base.json", &err);
        if (fg_test_o200k_bpe == NULL) {
            fprintf(stderr, "o200k_base: %s\n", err.msg);
            exit(1);
        }
    }
    return fg_test_o200k_bpe;
}

#endif
