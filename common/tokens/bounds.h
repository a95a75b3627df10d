#ifndef FG_COMMON_TOKENS_BOUNDS_H
#define FG_COMMON_TOKENS_BOUNDS_H

/*
 * What the gateway knows of a token count before a provider reports one:
 * a lower bound (what a context-window check may reject on) and an upper
 * bound (what a reservation must cover). lower == upper is an exact count.
 * Both are >= 0 and lower <= upper always.
 */

#include <stdint.h>

typedef struct {
    int64_t lower;
    int64_t upper;
} fg_token_bounds_t;

static inline void
fg_token_bounds_add(fg_token_bounds_t *sum, const fg_token_bounds_t *b)
{
    sum->lower += b->lower;
    sum->upper += b->upper;
}

/* @n tokens, known exactly. */
static inline void
fg_token_bounds_add_exact(fg_token_bounds_t *sum, int64_t n)
{
    sum->lower += n;
    sum->upper += n;
}

#endif
