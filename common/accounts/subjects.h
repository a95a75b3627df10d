#ifndef FG_COMMON_SUBJECTS_H
#define FG_COMMON_SUBJECTS_H

/*
 * Open-addressed tables of 64-bit subjects (a key's id, a model's or a
 * provider's name hashed: common/accounts/limiter.h) in shared memory, as
 * the limiter and the ledger keep them, and the shm region each lives in.
 * An entry's first member is its `_Atomic uint64_t` subject, 0 while
 * free; a subject is entered with one compare-and-swap and never removed,
 * so any process may look up and enter at once without a lock.
 *
 * A region is a 64-byte header (fg_subjects_region_t), the table of
 * entries, then one table of slots per owner (what each worker, and for
 * the ledger the syncer and the master, holds). Offsets count from the
 * header, so the region holds no pointer and maps anywhere. The region's
 * memory is the caller's (a part of the arena); nothing here allocates.
 */

#include <stddef.h>
#include <stdint.h>

#include "common/base/errors.h"

/* The header of a region; the ledger and the limiter each add a magic of
 * their own. */
typedef struct {
    uint64_t magic;
    uint32_t entries;          /* a power of two */
    uint32_t owners;
    uint64_t entries_offset;   /* bytes from the header */
    uint64_t slots_offset;
    uint8_t  pad[32];
} fg_subjects_region_t;

_Static_assert(sizeof(fg_subjects_region_t) == 64, "subjects region header");

/* What a region holds: the parts in which the ledger's and the limiter's
 * differ. */
typedef struct {
    const char *name;          /* for errors: "ledger", "limiter" */
    uint64_t    magic;
    size_t      entry_bytes;   /* one entry of the table */
    size_t      owner_bytes;   /* one owner's table of slots */
    unsigned    min_owners;
} fg_subjects_layout_t;

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

/* Bytes of a region of @layout for @max_subjects subjects and @owners
 * owners; 0 when either is out of range (no subject, more than 2^28, or
 * fewer owners than the layout needs). */
size_t fg_subjects_region_bytes(const fg_subjects_layout_t *layout,
                                uint32_t max_subjects, unsigned owners);

/*
 * Lays out an empty region of @layout in the zeroed, 64-byte aligned
 * @mem of @bytes bytes: writes the header, leaves the tables zero (every
 * entry free, every slot free). Master, before forking. Returns @mem as
 * the header, or NULL with @err set when the size is out of range or
 * @mem is too small or misaligned.
 */
fg_subjects_region_t *fg_subjects_region_init(
    const fg_subjects_layout_t *layout, void *mem, size_t bytes,
    uint32_t max_subjects, unsigned owners, fg_err_t *err);

/* The region's table of entries, and owner @owner's table of slots of
 * @owner_bytes each owner. Cannot fail; @owner is not checked. */
static inline void *
fg_subjects_region_entries(const fg_subjects_region_t *r)
{
    return (char *) r + r->entries_offset;
}

static inline void *
fg_subjects_region_slots(const fg_subjects_region_t *r, unsigned owner,
                         size_t owner_bytes)
{
    return (char *) r + r->slots_offset + (size_t) owner * owner_bytes;
}

#endif
