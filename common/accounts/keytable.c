/*
 * keytable.c: the shared-memory key table, one writer and many lock-free
 * readers.
 *
 * Layout of the block, all offsets from its start:
 *
 *   header     fg_keytable_t, 128 bytes
 *   index 0    kt_index_slots x _Atomic uint64_t   (open addressing)
 *   index 1    the same; only one of the two is in use, gen & 1
 *   free       kt_versions x uint32_t, the writer's stack of free versions
 *   versions   kt_versions x sizeof(fg_key_record_t), as _Atomic uint64_t
 *
 * An index word is (stamp:38 | version:24 | state:2), state EMPTY (the
 * word 0), FULL or TOMBSTONE. A FULL word names the record version that
 * holds the key's current record. Lookup starts at the home slot, the
 * hash's first 8 bytes read little-endian masked to the index size (the
 * hash is keyed with the server secret, so no client can aim at a slot),
 * and probes linearly to the key or to an EMPTY word. There are at least
 * twice as many slots as keys, and tombstones are compacted away when
 * they pass an eighth of the slots, so at most 5/8 of the words are
 * non-empty and probes stay short.
 *
 * Writing (one writer process; the caller serialises calls):
 *   put     pop a free version, write the whole record into it, then
 *           publish it with ONE release store of the index word (a new
 *           FULL word, or replacing the old FULL word of the same key);
 *           only then push the replaced version onto the free stack.
 *   delete  store a TOMBSTONE word, then push the version.
 *   compact rebuild the live words into the other index (zeroed first),
 *           then switch with one release store of kt_index_gen.
 * Every word store carries a stamp never used before (kt_stamp counts
 * writes; 2^38 of them would have to happen during one read for a stamp
 * to repeat), so a word that reads the same twice was not rewritten in
 * between.
 *
 * Why a reader never returns a half-written or wrong record. A reader
 * loads the word (acquire), copies the version's words (relaxed atomic
 * loads, so there is no data race in the C11 sense), issues an acquire
 * fence, then reloads the word and kt_index_gen; if either changed it
 * starts again. 1) The acquire load of a FULL word synchronises with the
 * release store that published it, so the copy sees at least the whole
 * record written before publication. 2) A version is rewritten only
 * after the word naming it was replaced, and the writer issues a release
 * fence before writing any version; if the copy read even one word of a
 * later rewrite, fence-to-fence synchronisation makes the replacement
 * visible to the reload, which then differs, and the copy is discarded.
 * 3) Likewise the other index is rebuilt only after a release fence that
 * follows the kt_index_gen store which retired it, so a reader that read
 * a word of a rebuild sees the generation move. A reader therefore
 * returns a record that was the key's current record at one instant of
 * the lookup. It never misses a key that stayed present: a key's word
 * keeps its slot until a compaction (which the generation check
 * catches), and a slot between a key's home and its word is never made
 * EMPTY again (deletion leaves a tombstone), so the probe cannot stop
 * early. Hash comparison is constant time.
 *
 * Why a reader never blocks, even when the writer dies. Readers take no
 * lock and never wait for a count to become even: the published words
 * and the versions they name are complete at every instant, whatever
 * instruction the writer died at; what it was writing is an unpublished
 * version nobody reads, or the inactive index. A reader restarts only
 * when a write completed under it, and gives up after
 * FG_KEYTABLE_READ_RETRIES restarts with FG_KEYTABLE_BUSY, which callers
 * treat as "key unavailable" (fail closed), not as valid. This is the
 * bounded retry reliability.md 3.1 asks of seqlocks, but unlike a seqlock
 * no writer death can make it fire. A dead writer can only leave its own
 * bookkeeping (free stack, counts) stale; fg_keytable_recover() rebuilds
 * that from the published index before the next writer starts, so the
 * table never needs rebuilding from the store because of a crash.
 *
 * What this file does not do: keep live per-key state (balances, limiter
 * buckets change by CAS per request and need a stable home; neither a
 * key's slot, which compaction moves, nor its version, which every put
 * changes, is one), persist anything, or allocate outside recover.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/alloc.h"
#include "common/accounts/keytable.h"

#define KT_EMPTY          0u
#define KT_FULL           1u
#define KT_TOMBSTONE      2u
#define KT_VERSION_BITS   24
#define KT_VERSION_MASK   ((1u << KT_VERSION_BITS) - 1)
#define KT_STAMP_SHIFT    (2 + KT_VERSION_BITS)
#define KT_RECORD_WORDS   (sizeof(fg_key_record_t) / 8)
#define KT_HASH_WORDS     (FG_KEY_HASH_BYTES / 8)
#define KT_NO_SLOT        UINT32_MAX

_Static_assert(offsetof(fg_key_record_t, kr_hash) == 0,
               "the hash is the record's first words");
_Static_assert(FG_KEYTABLE_MAX_KEYS + 1 <= KT_VERSION_MASK,
               "every version index fits in a word");

static uint32_t keytable_slots_for(uint32_t max_keys);
static _Atomic uint64_t *keytable_index(const fg_keytable_t *t,
                                        uint64_t gen);
static _Atomic uint64_t *keytable_version(const fg_keytable_t *t,
                                          uint32_t v);
static uint32_t *keytable_free(fg_keytable_t *t);
static uint32_t keytable_home(const uint8_t hash[FG_KEY_HASH_BYTES],
                              uint32_t slots);
static uint64_t keytable_word(uint32_t state, uint32_t version,
                              uint64_t stamp);
static uint32_t keytable_word_state(uint64_t w);
static uint32_t keytable_word_version(uint64_t w);
static void keytable_load_words(const _Atomic uint64_t *src, uint64_t *dst,
                                size_t n);
static int keytable_words_equal(const uint64_t *a, const uint64_t *b);
static int keytable_read_held(const fg_keytable_t *t,
                              const _Atomic uint64_t *idx, uint32_t i,
                              uint64_t w, uint64_t gen);
static int keytable_find(fg_keytable_t *t, const uint64_t *want,
                         const uint8_t *hash, uint32_t *slot,
                         uint32_t *tombstone);
static void keytable_compact(fg_keytable_t *t);
static int keytable_check_pattern(const char *p, size_t size, int index,
                                  fg_err_t *err);
static int keytable_check_str(const char *s, size_t size, const char *field,
                              fg_err_t *err);

static uint32_t
keytable_slots_for(uint32_t max_keys)
{
    uint32_t slots = 8;

    while (slots < 2 * (uint64_t) max_keys) {
        slots *= 2;
    }
    return slots;
}

/*
 * The regions lie behind the header. Readers hold a const table but the
 * words are atomics they load, so the pointers are computed from the
 * address rather than cast from the const pointer.
 */
static _Atomic uint64_t *
keytable_index(const fg_keytable_t *t, uint64_t gen)
{
    return (_Atomic uint64_t *) ((uintptr_t) t
                                 + t->kt_index_offset[gen & 1]);
}

static _Atomic uint64_t *
keytable_version(const fg_keytable_t *t, uint32_t v)
{
    return (_Atomic uint64_t *) ((uintptr_t) t + t->kt_versions_offset
                                 + (uint64_t) v * t->kt_record_bytes);
}

static uint32_t *
keytable_free(fg_keytable_t *t)
{
    return (uint32_t *) ((char *) t + t->kt_free_offset);
}

static uint32_t
keytable_home(const uint8_t hash[FG_KEY_HASH_BYTES], uint32_t slots)
{
    uint64_t h = 0;
    int      i;

    for (i = 7; i >= 0; i--) {
        h = (h << 8) | hash[i];
    }
    return (uint32_t) (h & (slots - 1));
}

static uint64_t
keytable_word(uint32_t state, uint32_t version, uint64_t stamp)
{
    return (stamp << KT_STAMP_SHIFT) | ((uint64_t) version << 2) | state;
}

static uint32_t
keytable_word_state(uint64_t w)
{
    return (uint32_t) (w & 3);
}

static uint32_t
keytable_word_version(uint64_t w)
{
    return (uint32_t) (w >> 2) & KT_VERSION_MASK;
}

static void
keytable_load_words(const _Atomic uint64_t *src, uint64_t *dst, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        dst[i] = atomic_load_explicit(&src[i], memory_order_relaxed);
    }
}

/* Constant time: the loop never exits early. */
static int
keytable_words_equal(const uint64_t *a, const uint64_t *b)
{
    uint64_t diff = 0;
    size_t   i;

    for (i = 0; i < KT_HASH_WORDS; i++) {
        diff |= a[i] ^ b[i];
    }
    return diff == 0;
}

/*
 * The reload after a copy: words were read through index word @w at slot
 * @i of the index of generation @gen. 1 when that word and the generation
 * are still the same, so the copy is one whole version (2) and 3) of the
 * file comment); 0 when it must be discarded and the read started again.
 */
static int
keytable_read_held(const fg_keytable_t *t, const _Atomic uint64_t *idx,
                   uint32_t i, uint64_t w, uint64_t gen)
{
    atomic_thread_fence(memory_order_acquire);
    return atomic_load_explicit(&idx[i], memory_order_relaxed) == w
           && atomic_load_explicit(&t->kt_index_gen,
                                   memory_order_relaxed) == gen;
}

size_t
fg_keytable_bytes(uint32_t max_keys)
{
    uint64_t bytes;

    if (max_keys == 0 || max_keys > FG_KEYTABLE_MAX_KEYS) {
        return 0;
    }
    bytes = sizeof(fg_keytable_t)
            + 2 * (uint64_t) keytable_slots_for(max_keys) * 8
            + (((uint64_t) max_keys + 1) * 4 + 7) / 8 * 8
            + ((uint64_t) max_keys + 1) * sizeof(fg_key_record_t);
    return (size_t) ((bytes + 63) / 64 * 64);
}

fg_keytable_t *
fg_keytable_init(void *mem, size_t bytes, uint32_t max_keys, fg_err_t *err)
{
    fg_keytable_t *t = mem;
    uint32_t       slots, v, *free_stack;
    size_t         need = fg_keytable_bytes(max_keys);

    if (need == 0) {
        fg_err_set(err, FG_E_OUT_OF_RANGE, "max_keys",
                   "key table of %u keys, expected 1 to %u", max_keys,
                   FG_KEYTABLE_MAX_KEYS);
        return NULL;
    }
    if (bytes < need || ((uintptr_t) mem & 7) != 0) {
        fg_err_set(err, FG_E_INTERNAL, NULL,
                   "key table block of %zu bytes at %p, need %zu bytes "
                   "8-byte aligned", bytes, mem, need);
        return NULL;
    }

    slots = keytable_slots_for(max_keys);
    memset(t, 0, sizeof(*t));
    t->kt_magic = FG_KEYTABLE_MAGIC;
    t->kt_layout_version = FG_KEYTABLE_LAYOUT_VERSION;
    t->kt_header_bytes = sizeof(fg_keytable_t);
    t->kt_total_bytes = need;
    t->kt_max_keys = max_keys;
    t->kt_index_slots = slots;
    t->kt_versions = max_keys + 1;
    t->kt_record_bytes = sizeof(fg_key_record_t);
    t->kt_index_offset[0] = sizeof(fg_keytable_t);
    t->kt_index_offset[1] = t->kt_index_offset[0] + (uint64_t) slots * 8;
    t->kt_free_offset = t->kt_index_offset[1] + (uint64_t) slots * 8;
    t->kt_versions_offset = t->kt_free_offset
                            + ((uint64_t) t->kt_versions * 4 + 7) / 8 * 8;

    /* Only the indexes must be zero (EMPTY); versions are written first. */
    memset((char *) t + t->kt_index_offset[0], 0, (size_t) slots * 16);

    /* Stacked in reverse so versions are handed out from 0 upwards. */
    free_stack = keytable_free(t);
    for (v = 0; v < t->kt_versions; v++) {
        free_stack[v] = t->kt_versions - 1 - v;
    }
    t->kt_free_top = t->kt_versions;
    return t;
}

fg_keytable_t *
fg_keytable_attach(void *mem, size_t bytes, fg_err_t *err)
{
    fg_keytable_t *t = mem;
    uint64_t       slots, free_offset;

    if (((uintptr_t) mem & 7) != 0) {
        fg_err_set(err, FG_E_INTERNAL, NULL,
                   "key table at %p is not 8-byte aligned", mem);
        return NULL;
    }
    if (bytes < sizeof(fg_keytable_t) || t->kt_magic != FG_KEYTABLE_MAGIC) {
        fg_err_set(err, FG_E_INTERNAL, NULL, "key table has a bad magic");
        return NULL;
    }
    if (t->kt_layout_version != FG_KEYTABLE_LAYOUT_VERSION) {
        fg_err_set(err, FG_E_INTERNAL, NULL,
                   "key table layout version %u, expected %u",
                   t->kt_layout_version, FG_KEYTABLE_LAYOUT_VERSION);
        return NULL;
    }
    if (t->kt_header_bytes != sizeof(fg_keytable_t)
        || t->kt_record_bytes != sizeof(fg_key_record_t)) {
        fg_err_set(err, FG_E_INTERNAL, NULL,
                   "key table header/record of %u/%u bytes, this build has "
                   "%zu/%zu", t->kt_header_bytes, t->kt_record_bytes,
                   sizeof(fg_keytable_t), sizeof(fg_key_record_t));
        return NULL;
    }
    if (fg_keytable_bytes(t->kt_max_keys) != t->kt_total_bytes
        || t->kt_total_bytes > bytes) {
        fg_err_set(err, FG_E_INTERNAL, NULL,
                   "key table of %u keys claims %llu bytes in a block of "
                   "%zu", t->kt_max_keys,
                   (unsigned long long) t->kt_total_bytes, bytes);
        return NULL;
    }

    /* Readers index the block by these: each must be what init wrote. */
    slots = keytable_slots_for(t->kt_max_keys);
    free_offset = sizeof(fg_keytable_t) + 2 * slots * 8;
    if (t->kt_index_slots != slots || t->kt_versions != t->kt_max_keys + 1
        || t->kt_index_offset[0] != sizeof(fg_keytable_t)
        || t->kt_index_offset[1] != sizeof(fg_keytable_t) + slots * 8
        || t->kt_free_offset != free_offset
        || t->kt_versions_offset
           != free_offset + ((uint64_t) t->kt_versions * 4 + 7) / 8 * 8) {
        fg_err_set(err, FG_E_INTERNAL, NULL,
                   "key table of %u keys has index slots %u, versions %u or "
                   "region offsets that do not match its size",
                   t->kt_max_keys, t->kt_index_slots, t->kt_versions);
        return NULL;
    }
    return t;
}

/*
 * Writer-side probe. Returns 1 with *@slot at the key's word, or 0 with
 * *@slot at the EMPTY word that ends the probe (KT_NO_SLOT if there was
 * none) and *@tombstone at the first tombstone passed (KT_NO_SLOT if none).
 * Relaxed loads suffice: this process wrote everything it reads.
 */
static int
keytable_find(fg_keytable_t *t, const uint64_t *want, const uint8_t *hash,
              uint32_t *slot, uint32_t *tombstone)
{
    _Atomic uint64_t *idx = keytable_index(t,
        atomic_load_explicit(&t->kt_index_gen, memory_order_relaxed));
    uint32_t          mask = t->kt_index_slots - 1, i, n, state;
    uint64_t          w, have[KT_HASH_WORDS];

    *tombstone = KT_NO_SLOT;
    *slot = KT_NO_SLOT;
    i = keytable_home(hash, t->kt_index_slots);
    for (n = 0; n < t->kt_index_slots; n++, i = (i + 1) & mask) {
        w = atomic_load_explicit(&idx[i], memory_order_relaxed);
        state = keytable_word_state(w);
        if (state == KT_EMPTY) {
            *slot = i;
            return 0;
        }
        if (state == KT_TOMBSTONE) {
            if (*tombstone == KT_NO_SLOT) {
                *tombstone = i;
            }
            continue;
        }
        keytable_load_words(keytable_version(t, keytable_word_version(w)),
                            have, KT_HASH_WORDS);
        if (keytable_words_equal(want, have)) {
            *slot = i;
            return 1;
        }
    }
    return 0;
}

int
fg_keytable_put(fg_keytable_t *t, const fg_key_record_t *rec, fg_err_t *err)
{
    _Atomic uint64_t *idx, *ver;
    uint64_t          want[KT_HASH_WORDS], old, words[KT_RECORD_WORDS];
    uint32_t          slot, tombstone, target, v, i;
    int               found;

    if (fg_key_record_validate(rec, err) != FG_OK) {
        return FG_ERR;
    }
    memcpy(want, rec->kr_hash, sizeof(want));
    memcpy(words, rec, sizeof(words));
    atomic_store_explicit(&t->kt_writer_busy, 1, memory_order_relaxed);

    found = keytable_find(t, want, rec->kr_hash, &slot, &tombstone);
    if (!found && atomic_load_explicit(&t->kt_count, memory_order_relaxed)
                  >= t->kt_max_keys) {
        atomic_store_explicit(&t->kt_writer_busy, 0, memory_order_relaxed);
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "key table is full (%u keys)", t->kt_max_keys);
    }
    target = (found || tombstone == KT_NO_SLOT) ? slot : tombstone;
    if (target == KT_NO_SLOT || t->kt_free_top == 0
        || t->kt_free_top > t->kt_versions
        || keytable_free(t)[t->kt_free_top - 1] >= t->kt_versions) {
        /* Impossible while the load and free-stack invariants hold. */
        atomic_store_explicit(&t->kt_writer_busy, 0, memory_order_relaxed);
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "key table bookkeeping is inconsistent; "
                          "fg_keytable_recover() it");
    }

    v = keytable_free(t)[--t->kt_free_top];
    ver = keytable_version(t, v);

    /*
     * This version may have been read by a reader that has not finished;
     * the fence makes any word it reads from the stores below carry the
     * news that the version was retired (see the file comment, 2).
     */
    atomic_thread_fence(memory_order_release);
    for (i = 0; i < KT_RECORD_WORDS; i++) {
        atomic_store_explicit(&ver[i], words[i], memory_order_relaxed);
    }

    idx = keytable_index(t, atomic_load_explicit(&t->kt_index_gen,
                                                 memory_order_relaxed));
    old = atomic_load_explicit(&idx[target], memory_order_relaxed);
    atomic_store_explicit(&idx[target],
                          keytable_word(KT_FULL, v, ++t->kt_stamp),
                          memory_order_release);

    if (found) {
        keytable_free(t)[t->kt_free_top++] = keytable_word_version(old);
    } else {
        atomic_fetch_add_explicit(&t->kt_count, 1, memory_order_relaxed);
        if (target == tombstone) {
            atomic_fetch_sub_explicit(&t->kt_tombstones, 1,
                                      memory_order_relaxed);
        }
    }
    atomic_store_explicit(&t->kt_writer_busy, 0, memory_order_relaxed);
    return FG_OK;
}

fg_keytable_result_t
fg_keytable_delete(fg_keytable_t *t, const uint8_t hash[FG_KEY_HASH_BYTES])
{
    _Atomic uint64_t *idx;
    uint64_t          want[KT_HASH_WORDS], old;
    uint32_t          slot, tombstone;

    memcpy(want, hash, sizeof(want));
    atomic_store_explicit(&t->kt_writer_busy, 1, memory_order_relaxed);
    if (!keytable_find(t, want, hash, &slot, &tombstone)) {
        atomic_store_explicit(&t->kt_writer_busy, 0, memory_order_relaxed);
        return FG_KEYTABLE_NOT_FOUND;
    }

    idx = keytable_index(t, atomic_load_explicit(&t->kt_index_gen,
                                                 memory_order_relaxed));
    old = atomic_load_explicit(&idx[slot], memory_order_relaxed);
    atomic_store_explicit(&idx[slot],
                          keytable_word(KT_TOMBSTONE, 0, ++t->kt_stamp),
                          memory_order_release);
    keytable_free(t)[t->kt_free_top++] = keytable_word_version(old);
    atomic_fetch_sub_explicit(&t->kt_count, 1, memory_order_relaxed);
    if (atomic_fetch_add_explicit(&t->kt_tombstones, 1,
                                  memory_order_relaxed) + 1
        > t->kt_index_slots / 8) {
        keytable_compact(t);
    }
    atomic_store_explicit(&t->kt_writer_busy, 0, memory_order_relaxed);
    return FG_KEYTABLE_FOUND;
}

/*
 * Rebuilds the live words into the index not in use, then switches to it.
 * Words are copied verbatim (their stamps stay unique), each to the first
 * EMPTY slot from its home, so the new index has no tombstones.
 */
static void
keytable_compact(fg_keytable_t *t)
{
    uint64_t          gen, w, hash_words[KT_HASH_WORDS];
    uint8_t           hash[FG_KEY_HASH_BYTES];
    _Atomic uint64_t *src, *dst;
    uint32_t          mask = t->kt_index_slots - 1, i, j;

    gen = atomic_load_explicit(&t->kt_index_gen, memory_order_relaxed);
    src = keytable_index(t, gen);
    dst = keytable_index(t, gen + 1);

    /* Readers of the retired generation must see it moved (comment, 3). */
    atomic_thread_fence(memory_order_release);
    for (i = 0; i < t->kt_index_slots; i++) {
        atomic_store_explicit(&dst[i], 0, memory_order_relaxed);
    }
    for (i = 0; i < t->kt_index_slots; i++) {
        w = atomic_load_explicit(&src[i], memory_order_relaxed);
        if (keytable_word_state(w) != KT_FULL) {
            continue;
        }
        keytable_load_words(keytable_version(t, keytable_word_version(w)),
                            hash_words, KT_HASH_WORDS);
        memcpy(hash, hash_words, sizeof(hash));
        j = keytable_home(hash, t->kt_index_slots);
        while (atomic_load_explicit(&dst[j], memory_order_relaxed) != 0) {
            j = (j + 1) & mask;
        }
        atomic_store_explicit(&dst[j], w, memory_order_relaxed);
    }
    atomic_store_explicit(&t->kt_index_gen, gen + 1, memory_order_release);
    atomic_store_explicit(&t->kt_tombstones, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&t->kt_compactions, 1, memory_order_relaxed);
}

fg_keytable_result_t
fg_keytable_lookup(const fg_keytable_t *t,
                   const uint8_t hash[FG_KEY_HASH_BYTES], fg_key_record_t *out)
{
    const _Atomic uint64_t *idx, *ver;
    uint64_t                want[KT_HASH_WORDS], words[KT_RECORD_WORDS];
    uint64_t                gen, w;
    uint32_t                mask = t->kt_index_slots - 1, i, n, v;
    int                     attempt;

    memcpy(want, hash, sizeof(want));
    for (attempt = 0; attempt < FG_KEYTABLE_READ_RETRIES; attempt++) {
        gen = atomic_load_explicit(&t->kt_index_gen, memory_order_acquire);
        idx = keytable_index(t, gen);
        i = keytable_home(hash, t->kt_index_slots);

        for (n = 0; n < t->kt_index_slots; n++, i = (i + 1) & mask) {
            w = atomic_load_explicit(&idx[i], memory_order_acquire);
            if (keytable_word_state(w) == KT_EMPTY) {
                atomic_thread_fence(memory_order_acquire);
                if (atomic_load_explicit(&t->kt_index_gen,
                                         memory_order_relaxed) != gen) {
                    goto restart;
                }
                return FG_KEYTABLE_NOT_FOUND;
            }
            if (keytable_word_state(w) != KT_FULL) {
                continue;
            }
            v = keytable_word_version(w);
            if (v >= t->kt_versions) {
                goto restart;    /* only a rebuild in progress shows this */
            }
            ver = keytable_version(t, v);

            /* The hash words first: most probes stop at a mismatch. */
            keytable_load_words(ver, words, KT_HASH_WORDS);
            if (!keytable_read_held(t, idx, i, w, gen)) {
                goto restart;
            }
            if (!keytable_words_equal(want, words)) {
                continue;
            }

            keytable_load_words(ver, words, KT_RECORD_WORDS);
            if (!keytable_read_held(t, idx, i, w, gen)) {
                goto restart;
            }
            memcpy(out, words, sizeof(*out));
            return FG_KEYTABLE_FOUND;
        }
        /* No EMPTY word at all: impossible at this load; read again. */
restart:
        ;
    }
    return FG_KEYTABLE_BUSY;
}

fg_keytable_result_t
fg_keytable_next(const fg_keytable_t *t, uint32_t *cursor,
                 fg_key_record_t *out)
{
    const _Atomic uint64_t *idx;
    uint64_t                words[KT_RECORD_WORDS], gen, w;
    uint32_t                i, v;
    int                     attempt;

    for (attempt = 0; attempt < FG_KEYTABLE_READ_RETRIES; attempt++) {
        gen = atomic_load_explicit(&t->kt_index_gen, memory_order_acquire);
        idx = keytable_index(t, gen);
        for (i = *cursor; i < t->kt_index_slots; i++) {
            w = atomic_load_explicit(&idx[i], memory_order_acquire);
            if (keytable_word_state(w) != KT_FULL) {
                continue;
            }
            v = keytable_word_version(w);
            if (v >= t->kt_versions) {
                break;
            }
            keytable_load_words(keytable_version(t, v), words,
                                KT_RECORD_WORDS);
            if (!keytable_read_held(t, idx, i, w, gen)) {
                break;
            }
            memcpy(out, words, sizeof(*out));
            *cursor = i + 1;
            return FG_KEYTABLE_FOUND;
        }
        if (i == t->kt_index_slots) {
            *cursor = i;
            return FG_KEYTABLE_NOT_FOUND;
        }
        *cursor = i;    /* read slot i again */
    }
    return FG_KEYTABLE_BUSY;
}

uint32_t
fg_keytable_count(const fg_keytable_t *t)
{
    return atomic_load_explicit(&t->kt_count, memory_order_relaxed);
}

void
fg_keytable_stats(const fg_keytable_t *t, fg_keytable_stats_t *st)
{
    st->max_keys = t->kt_max_keys;
    st->index_slots = t->kt_index_slots;
    st->count = atomic_load_explicit(&t->kt_count, memory_order_relaxed);
    st->tombstones = atomic_load_explicit(&t->kt_tombstones,
                                          memory_order_relaxed);
    st->writer_busy = atomic_load_explicit(&t->kt_writer_busy,
                                           memory_order_relaxed);
    st->compactions = atomic_load_explicit(&t->kt_compactions,
                                           memory_order_relaxed);
    st->bytes = (size_t) t->kt_total_bytes;
}

void
fg_keytable_recover(fg_keytable_t *t)
{
    _Atomic uint64_t *idx;
    uint8_t          *used;
    uint32_t          i, v, count = 0, tombstones = 0, top = 0;
    uint64_t          w, gen;

    /*
     * The published index is the truth: a version is live exactly when a
     * FULL word names it. Whatever the dead writer had popped but not
     * published, or replaced but not yet pushed, goes back on the stack.
     * Stamps restart above every stamp in either index, so that no word a
     * reader may hold can be written again.
     */
    for (gen = 0; gen < 2; gen++) {
        idx = keytable_index(t, gen);
        for (i = 0; i < t->kt_index_slots; i++) {
            w = atomic_load_explicit(&idx[i], memory_order_relaxed);
            if ((w >> KT_STAMP_SHIFT) > t->kt_stamp) {
                t->kt_stamp = w >> KT_STAMP_SHIFT;
            }
        }
    }
    used = fg_xcalloc(t->kt_versions, 1);
    idx = keytable_index(t, atomic_load_explicit(&t->kt_index_gen,
                                                 memory_order_relaxed));
    for (i = 0; i < t->kt_index_slots; i++) {
        w = atomic_load_explicit(&idx[i], memory_order_relaxed);
        if (keytable_word_state(w) == KT_TOMBSTONE) {
            tombstones++;
        } else if (keytable_word_state(w) == KT_FULL
                   && keytable_word_version(w) < t->kt_versions) {
            used[keytable_word_version(w)] = 1;
            count++;
        }
    }
    for (v = t->kt_versions; v-- > 0; ) {
        if (!used[v]) {
            keytable_free(t)[top++] = v;
        }
    }
    free(used);
    t->kt_free_top = top;
    atomic_store_explicit(&t->kt_count, count, memory_order_relaxed);
    atomic_store_explicit(&t->kt_tombstones, tombstones,
                          memory_order_relaxed);
    atomic_store_explicit(&t->kt_writer_busy, 0, memory_order_relaxed);
}

int
fg_key_record_set_str(char *dst, size_t size, const char *value,
                      const char *field, fg_err_t *err)
{
    size_t len = strlen(value);

    if (len >= size) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, field,
                          "%s is %zu bytes, at most %zu allowed", field, len,
                          size - 1);
    }
    memcpy(dst, value, len + 1);
    return FG_OK;
}

static int
keytable_check_pattern(const char *p, size_t size, int index, fg_err_t *err)
{
    size_t len = strnlen(p, size), i;

    if (len == 0 || len == size) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, "models",
                          "model pattern %d is empty or longer than %zu "
                          "bytes", index, size - 1);
    }
    for (i = 0; i < len; i++) {
        if (p[i] < 0x21 || p[i] > 0x7e
            || (p[i] == '*' && !(i == len - 1
                                 && (len == 1 || (len > 2
                                                  && p[i - 1] == '/'))))) {
            return fg_err_set(err, FG_E_INVALID_VALUE, "models",
                              "model pattern \"%.*s\" is not an id, "
                              "\"provider/*\" or \"*\"", (int) len, p);
        }
    }
    return FG_OK;
}

int
fg_key_record_add_model(fg_key_record_t *rec, const char *pattern,
                        fg_err_t *err)
{
    if (rec->kr_models_count >= FG_KEY_RECORD_MODELS_MAX) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, "models",
                          "at most %d model patterns per key",
                          FG_KEY_RECORD_MODELS_MAX);
    }
    if (strlen(pattern) >= FG_KEY_RECORD_MODEL_SIZE) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, "models",
                          "model pattern is %zu bytes, at most %d allowed",
                          strlen(pattern), FG_KEY_RECORD_MODEL_SIZE - 1);
    }
    if (keytable_check_pattern(pattern, FG_KEY_RECORD_MODEL_SIZE,
                               (int) rec->kr_models_count, err) != FG_OK) {
        return FG_ERR;
    }
    memcpy(rec->kr_models[rec->kr_models_count++], pattern,
           strlen(pattern) + 1);
    return FG_OK;
}

static int
keytable_check_str(const char *s, size_t size, const char *field,
                   fg_err_t *err)
{
    if (memchr(s, '\0', size) == NULL) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, field,
                          "%s is not NUL-terminated within %zu bytes", field,
                          size);
    }
    return FG_OK;
}

/* The names of the FG_KEY_TRANSFORM_* bits, bit i at index i. */
static const char *const keytable_transforms[] = { "middle-out" };

#define KEYTABLE_TRANSFORMS \
    (sizeof(keytable_transforms) / sizeof(keytable_transforms[0]))

_Static_assert(FG_KEY_TRANSFORMS_KNOWN == (1u << KEYTABLE_TRANSFORMS) - 1,
               "a name for every transform bit");

unsigned
fg_key_transform_parse(const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < KEYTABLE_TRANSFORMS; i++) {
        if (strlen(keytable_transforms[i]) == len
            && memcmp(name, keytable_transforms[i], len) == 0) {
            return 1u << i;
        }
    }
    return 0;
}

const char *
fg_key_transform_name(unsigned bit)
{
    size_t i;

    for (i = 0; i < KEYTABLE_TRANSFORMS; i++) {
        if (bit == 1u << i) {
            return keytable_transforms[i];
        }
    }
    return NULL;
}

int
fg_key_record_validate(const fg_key_record_t *rec, fg_err_t *err)
{
    const int64_t *nums[] = {
        &rec->kr_created_ms, &rec->kr_updated_ms, &rec->kr_expires_ms,
        &rec->kr_grace_until_ms, &rec->kr_requests_per_min,
        &rec->kr_tokens_per_min, &rec->kr_max_concurrent,
        &rec->kr_balance_micro, &rec->kr_regen_per_hour_micro,
        &rec->kr_cap_micro
    };
    static const char *const names[] = {
        "created", "updated", "expires", "grace_until", "requests_per_min",
        "tokens_per_min", "max_concurrent", "balance_micro",
        "regen_per_hour_micro", "cap_micro"
    };
    uint32_t i;

    if (rec->kr_status < FG_KEY_STATUS_ACTIVE
        || rec->kr_status > FG_KEY_STATUS_ROTATED) {
        return fg_err_set(err, FG_E_INVALID_VALUE, "status",
                          "key status %u is unknown", rec->kr_status);
    }
    if (keytable_check_str(rec->kr_id, sizeof(rec->kr_id), "id", err)
        || keytable_check_str(rec->kr_name, sizeof(rec->kr_name), "name",
                              err)
        || keytable_check_str(rec->kr_owner, sizeof(rec->kr_owner), "owner",
                              err)
        || keytable_check_str(rec->kr_metadata, sizeof(rec->kr_metadata),
                              "metadata", err)) {
        return FG_ERR;
    }
    if (rec->kr_id[0] == '\0') {
        return fg_err_set(err, FG_E_INVALID_VALUE, "id", "key id is empty");
    }
    if ((rec->kr_transforms & ~FG_KEY_TRANSFORMS_KNOWN) != 0) {
        return fg_err_set(err, FG_E_INVALID_VALUE, "transforms",
                          "unknown transform bits 0x%02x",
                          (unsigned) (rec->kr_transforms
                                      & ~FG_KEY_TRANSFORMS_KNOWN));
    }
    if (rec->kr_models_count > FG_KEY_RECORD_MODELS_MAX) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, "models",
                          "%u model patterns, at most %d",
                          rec->kr_models_count, FG_KEY_RECORD_MODELS_MAX);
    }
    for (i = 0; i < rec->kr_models_count; i++) {
        if (keytable_check_pattern(rec->kr_models[i],
                                   FG_KEY_RECORD_MODEL_SIZE, (int) i, err)
            != FG_OK) {
            return FG_ERR;
        }
    }
    for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        if (*nums[i] < 0) {
            return fg_err_set(err, FG_E_OUT_OF_RANGE, names[i],
                              "%s is negative (%lld)", names[i],
                              (long long) *nums[i]);
        }
    }
    return FG_OK;
}

fg_key_check_t
fg_key_record_check(const fg_key_record_t *rec, int64_t now_ms)
{
    if (rec->kr_status != FG_KEY_STATUS_ACTIVE
        && rec->kr_status != FG_KEY_STATUS_ROTATED) {
        return FG_KEY_CHECK_REVOKED;    /* unknown statuses fail closed */
    }
    if (rec->kr_expires_ms != 0 && now_ms >= rec->kr_expires_ms) {
        return FG_KEY_CHECK_EXPIRED;
    }
    if (rec->kr_status == FG_KEY_STATUS_ROTATED
        && now_ms >= rec->kr_grace_until_ms) {
        return FG_KEY_CHECK_ROTATED;
    }
    return FG_KEY_CHECK_OK;
}

int
fg_keytable_matches_model(const fg_key_record_t *rec, const char *model_id,
                          const char *provider_id)
{
    const char *p;
    size_t      len;
    uint32_t    i;

    if (rec->kr_models_count == 0) {
        return 1;
    }
    for (i = 0; i < rec->kr_models_count && i < FG_KEY_RECORD_MODELS_MAX;
         i++) {
        p = rec->kr_models[i];
        len = strnlen(p, FG_KEY_RECORD_MODEL_SIZE);
        if (len == 1 && p[0] == '*') {
            return 1;
        }
        if (len > 2 && p[len - 1] == '*' && p[len - 2] == '/') {
            if (provider_id != NULL && strlen(provider_id) == len - 2
                && memcmp(provider_id, p, len - 2) == 0) {
                return 1;
            }
            if (strncmp(model_id, p, len - 1) == 0
                && model_id[len - 1] != '\0') {
                return 1;
            }
            continue;
        }
        if (len < FG_KEY_RECORD_MODEL_SIZE && strcmp(p, model_id) == 0) {
            return 1;
        }
    }
    return 0;
}
