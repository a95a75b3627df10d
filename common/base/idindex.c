/*
 * idindex.c: a string-keyed hash index, filled once at load.
 *
 * FNV-1a over the name picks the home slot; a collision walks to the next
 * slot. The table doubles before it is half full, so a look-up that
 * misses meets an empty slot within a few probes, and the walk is bounded
 * by the table's size anyway. Names come from configuration, not from
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
static fg_idindex_slot_t *idindex_slot(const fg_idindex_slot_t *slots,
                                       size_t slot_count, const char *name,
                                       size_t len);
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

/* The slot holding @name, or the empty slot where it would go. */
static fg_idindex_slot_t *
idindex_slot(const fg_idindex_slot_t *slots, size_t slot_count,
             const char *name, size_t len)
{
    size_t mask = slot_count - 1, i, probes;

    i = (size_t) idindex_hash(name, len) & mask;
    for (probes = 0; probes < slot_count; probes++, i = (i + 1) & mask) {
        const fg_idindex_slot_t *s = &slots[i];

        if (s->name == NULL
            || (s->len == len && memcmp(s->name, name, len) == 0)) {
            return (fg_idindex_slot_t *) s;
        }
    }
    return NULL;    /* full: never, the table stays at most half full */
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
            *idindex_slot(slots, n, old->name, old->len) = *old;
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
    size_t             len = strlen(name);
    fg_idindex_slot_t *s;

    if ((ix->count + 1) * 2 > ix->slot_count) {
        idindex_grow(ix);
    }
    s = idindex_slot(ix->slots, ix->slot_count, name, len);
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
    const fg_idindex_slot_t *s;

    if (ix->count == 0) {
        return FG_IDINDEX_NONE;
    }
    s = idindex_slot(ix->slots, ix->slot_count, name, len);
    return s != NULL && s->name != NULL ? s->entry : FG_IDINDEX_NONE;
}

size_t
fg_idindex_find(const fg_idindex_t *ix, const char *name)
{
    return fg_idindex_find_len(ix, name, strlen(name));
}
