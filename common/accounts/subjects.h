#ifndef FG_COMMON_SUBJECTS_H
#define FG_COMMON_SUBJECTS_H

/*
 * Open-addressed tables of 64-bit subjects (a key's id, a model's or a
 * provider's name hashed: common/accounts/limiter.h) in shared memory, as the
 * limiter and the ledger keep them. An entry's first member is its
 * `_Atomic uint64_t` subject, 0 while free; a subject is entered with one
 * compare-and-swap and never removed, so any process may look up and
 * enter at once without a lock.
 */

#include <stddef.h>
#include <stdint.h>

/* Entries for @max subjects: a power of two, at least 64 and 2 * @max
 * (probes stay short), at most 2^30. */
uint32_t fg_subjects_slots_for(uint32_t max);

/*
 * The entry of @subject among the @n (a power of two) entries of @stride
 * bytes at @base, entered first if @create and absent; its index into
 * *@index. NULL when @subject is 0, absent and not @create, or the table
 * is full. Any process; never blocks.
 */
void *fg_subjects_find(void *base, size_t stride, uint32_t n,
                       uint64_t subject, int create, uint32_t *index);

#endif
