#ifndef FG_COMMON_IDINDEX_H
#define FG_COMMON_IDINDEX_H

/*
 * Find-by-id for the tables loaded from configuration (the catalog's
 * providers and models, the impact tables' countries, providers and
 * models): a hash index from a name to the position of its entry in the
 * caller's array. Open addressing with linear probing over a power-of-two
 * table kept at most half full, so a look-up is a hash and a probe or
 * two, whatever the table's size.
 *
 * An index is filled while its table loads, and only read afterwards:
 * any number of processes or threads may look up at once, none may add
 * meanwhile. It owns copies of its names, so it borrows nothing from the
 * table. Storage: the caller's fg_idindex_t, zeroed (or
 * fg_idindex_init()); fg_idindex_cleanup() frees what it holds.
 */

#include <stddef.h>
#include <stdint.h>

#define FG_IDINDEX_NONE SIZE_MAX   /* "no such name" */

typedef struct fg_idindex_slot_s fg_idindex_slot_t;   /* idindex.c */

typedef struct {
    fg_idindex_slot_t *slots;       /* owned */
    size_t             slot_count;  /* a power of two; 0 before an add */
    size_t             count;       /* names added */
} fg_idindex_t;

/* An empty index (the same as a zeroed one). Cannot fail. */
void fg_idindex_init(fg_idindex_t *ix);

/* Frees what @ix holds and leaves it empty; accepts an empty index. */
void fg_idindex_cleanup(fg_idindex_t *ix);

/*
 * Maps @name to @entry. Returns 1 when added, 0 when @name is already in
 * the index (which then keeps its first entry: the caller reports the
 * duplicate). Aborts on out-of-memory, as fg_xmalloc() does.
 */
int fg_idindex_add(fg_idindex_t *ix, const char *name, size_t entry);

/* The entry of @name, or FG_IDINDEX_NONE. No allocation, no lock. */
size_t fg_idindex_find(const fg_idindex_t *ix, const char *name);

/* The same for the @len bytes at @name (a name inside a longer string). */
size_t fg_idindex_find_len(const fg_idindex_t *ix, const char *name,
                           size_t len);

#endif
