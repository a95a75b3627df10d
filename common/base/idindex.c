/*
 * idindex.c: a string-keyed hash index, filled once at load.
 *
 * FNV-1a over the name picks the home slot; a collision walks to the next
 * slot, at most once round the table. The table doubles before it is
 * more than half full, so every walk ends at the name or an empty slot,
 * and a look-up that misses meets one within a few probes. Names come from configuration, not from
 * clients: a client only looks up, so it can at worst pick a name whose
 * probe walk is as long as the longest the loaded ids made.
 *
 * Nothing is ever removed: the tables it serves are immutable once
 * loaded, and a reload builds new ones.
 */

#include <stdlib.h>
#include <string.h>

#include "common/base/alloc.h"
#include "common/base/idindex.h"

#define IDINDEX_FIRST_SLOTS 16

struct fg_idindex_slot_s {
    char   *name;      /* owned; NULL: empty */
    size_t  len;
    size_t  entry;
};

static uint64_t idindex_hash(const char *name, size_t len);
static size_t idindex_slot(const fg_idindex_slot_t *slots,
                           size_t slot_count, const char *name, size_t len);
static void idindex_grow(fg_idindex_t *ix);

static uint64_t
idindex_hash(const char *name, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t   i;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char) name[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/*
 * The position of the slot holding @name, or of the empty slot where it
 * would go; @slot_count when there is neither, which the table, never
 * more than half full, cannot reach.
 */
static size_t
idindex_slot(const fg_idindex_slot_t *slots, size_t slot_count,
             const char *name, size_t len)
{
    size_t mask = slot_count - 1, i, probes;

    i = (size_t) idindex_hash(name, len) & mask;
    for (probes = 0; probes < slot_count; probes++, i = (i + 1) & mask) {
        if (slots[i].name == NULL
            || (slots[i].len == len && memcmp(slots[i].name, name, len) == 0)) {
            return i;
        }
    }
    return slot_count;
}

static void
idindex_grow(fg_idindex_t *ix)
{
    size_t             n = ix->slot_count ? ix->slot_count * 2
                                          : IDINDEX_FIRST_SLOTS, i;
    fg_idindex_slot_t *slots = fg_xcalloc(n, sizeof(*slots));

    for (i = 0; i < ix->slot_count; i++) {
        fg_idindex_slot_t *old = &ix->slots[i];

        if (old->name != NULL) {
            /* Twice the slots: an empty one for each old name. */
            slots[idindex_slot(slots, n, old->name, old->len)] = *old;
        }
    }
    free(ix->slots);
    ix->slots = slots;
    ix->slot_count = n;
}

void
fg_idindex_init(fg_idindex_t *ix)
{
    memset(ix, 0, sizeof(*ix));
}

void
fg_idindex_cleanup(fg_idindex_t *ix)
{
    size_t i;

    for (i = 0; i < ix->slot_count; i++) {
        free(ix->slots[i].name);
    }
    free(ix->slots);
    fg_idindex_init(ix);
}

int
fg_idindex_add(fg_idindex_t *ix, const char *name, size_t entry)
{
    size_t             len = strlen(name), k;
    fg_idindex_slot_t *s;

    if ((ix->count + 1) * 2 > ix->slot_count) {
        idindex_grow(ix);
    }
    k = idindex_slot(ix->slots, ix->slot_count, name, len);
    if (k == ix->slot_count) {
        abort();    /* cannot be: the table was just made half empty */
    }
    s = &ix->slots[k];
    if (s->name != NULL) {
        return 0;
    }
    s->name = fg_xstrndup(name, len);
    s->len = len;
    s->entry = entry;
    ix->count++;
    return 1;
}

size_t
fg_idindex_find_len(const fg_idindex_t *ix, const char *name, size_t len)
{
    size_t k;

    if (ix->count == 0) {
        return FG_IDINDEX_NONE;
    }
    k = idindex_slot(ix->slots, ix->slot_count, name, len);
    return k < ix->slot_count && ix->slots[k].name != NULL
           ? ix->slots[k].entry : FG_IDINDEX_NONE;
}

size_t
fg_idindex_find(const fg_idindex_t *ix, const char *name)
{
    return fg_idindex_find_len(ix, name, strlen(name));
}
