/*
 * subjects.c: the lookup the limiter's and the ledger's tables share, and
 * the layout of the regions they live in.
 */

#include <stdatomic.h>
#include <string.h>

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

size_t
fg_subjects_region_bytes(const fg_subjects_layout_t *layout,
                         uint32_t max_subjects, unsigned owners)
{
    if (max_subjects == 0 || max_subjects > (1u << 28)
        || owners < layout->min_owners) {
        return 0;
    }
    return sizeof(fg_subjects_region_t)
           + (size_t) fg_subjects_slots_for(max_subjects)
             * layout->entry_bytes
           + (size_t) owners * layout->owner_bytes;
}

fg_subjects_region_t *
fg_subjects_region_init(const fg_subjects_layout_t *layout, void *mem,
                        size_t bytes, uint32_t max_subjects, unsigned owners,
                        fg_err_t *err)
{
    fg_subjects_region_t *r = mem;
    size_t need = fg_subjects_region_bytes(layout, max_subjects, owners);

    if (need == 0 || bytes < need || ((uintptr_t) mem & 63) != 0) {
        fg_err_set(err, FG_E_INTERNAL, NULL,
                   "%s region of %zu bytes, need %zu, 64-byte aligned",
                   layout->name, bytes, need);
        return NULL;
    }
    memset(r, 0, sizeof(*r));
    r->magic = layout->magic;
    r->entries = fg_subjects_slots_for(max_subjects);
    r->owners = owners;
    r->entries_offset = sizeof(*r);
    r->slots_offset = r->entries_offset
                      + (uint64_t) r->entries * layout->entry_bytes;
    return r;
}
