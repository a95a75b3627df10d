/*
 * subjects.c: the lookup the limiter's and the ledger's tables share.
 */

#include <stdatomic.h>

#include "common/accounts/subjects.h"

uint32_t
fg_subjects_slots_for(uint32_t max)
{
    uint32_t n = 64;

    while (n < max * 2u && n < (1u << 30)) {
        n *= 2;
    }
    return n;
}

void *
fg_subjects_find(void *base, size_t stride, uint32_t n, uint64_t subject,
                 int create, uint32_t *index)
{
    uint32_t mask = n - 1, i, probes;

    if (subject == 0) {
        return NULL;
    }
    i = (uint32_t) (subject ^ (subject >> 31)) & mask;
    for (probes = 0; probes < n; probes++, i = (i + 1) & mask) {
        _Atomic uint64_t *word = (_Atomic uint64_t *) ((char *) base
                                                       + (size_t) i * stride);
        uint64_t          cur = atomic_load_explicit(word,
                                                     memory_order_acquire);

        if (cur == 0) {
            if (!create) {
                return NULL;
            }
            /* A failed swap leaves in cur the subject entered meanwhile. */
            if (atomic_compare_exchange_strong(word, &cur, subject)) {
                *index = i;
                return word;
            }
        }
        if (cur == subject) {
            *index = i;
            return word;
        }
    }
    return NULL;
}
