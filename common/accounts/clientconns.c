/*
 * clientconns.c: connections per client across the workers (see
 * clientconns.h). An entry's word is 0 (never used: a probe stops here),
 * 1 (free again) or the client's hash with the top bit set and its low 9
 * bits replaced by the counting worker's slot. Only that worker changes
 * the entry's count, and it frees the word when the count drops to 0;
 * any worker may claim a free word with a CAS. Words are never reset to
 * 0, so a probe that stops at 0 has seen every entry of its client.
 */

#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>

#include "common/accounts/clientconns.h"

#define CC_EMPTY        0ULL
#define CC_FREE         1ULL
#define CC_WORKER_BITS  9
#define CC_WORKER_MASK  ((1ULL << CC_WORKER_BITS) - 1)
#define CC_CLAIM_TRIES  4

_Static_assert(crypto_shorthash_KEYBYTES == 16, "SipHash-2-4 key");

typedef struct {
    _Atomic uint64_t word;
    _Atomic uint64_t count;
} cc_entry_t;

struct fg_clientconns_s {
    uint32_t   slots;
    uint32_t   mask;
    uint8_t    secret[crypto_shorthash_KEYBYTES];
    uint8_t    pad[40];
    cc_entry_t entries[];
};

_Static_assert(sizeof(struct fg_clientconns_s) == 64, "a cache line");

uint32_t
fg_clientconns_slots(uint64_t connections)
{
    uint32_t slots = FG_CLIENTCONNS_MIN_SLOTS;

    while (slots < FG_CLIENTCONNS_MAX_SLOTS && slots < 2 * connections) {
        slots <<= 1;
    }
    return slots;
}

size_t
fg_clientconns_bytes(uint32_t slots)
{
    return sizeof(struct fg_clientconns_s) + (size_t) slots
                                             * sizeof(cc_entry_t);
}

fg_clientconns_t *
fg_clientconns_init(void *mem, uint32_t slots)
{
    fg_clientconns_t *t = mem;

    t->slots = slots;
    t->mask = slots - 1;
    randombytes_buf(t->secret, sizeof(t->secret));
    return t;
}

fg_clientconns_t *
fg_clientconns_attach(void *mem)
{
    return mem;
}

uint64_t
fg_clientconns_client(const fg_clientconns_t *t, const struct sockaddr *addr)
{
    static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                          0xff, 0xff };
    uint8_t  in[9];
    uint8_t  out[crypto_shorthash_BYTES];
    uint64_t h;
    size_t   n;

    if (addr->sa_family == AF_INET) {
        in[0] = 4;
        memcpy(in + 1, &((const struct sockaddr_in *) (const void *) addr)
                            ->sin_addr, 4);
        n = 5;
    } else if (addr->sa_family == AF_INET6) {
        const uint8_t *a = ((const struct sockaddr_in6 *)
                            (const void *) addr)->sin6_addr.s6_addr;

        if (memcmp(a, v4mapped, sizeof(v4mapped)) == 0) {
            in[0] = 4;
            memcpy(in + 1, a + 12, 4);
            n = 5;
        } else {
            in[0] = 6;
            memcpy(in + 1, a, 8);   /* the /64 */
            n = 9;
        }
    } else {
        return 0;
    }
    crypto_shorthash(out, in, n, t->secret);
    memcpy(&h, out, sizeof(h));
    return (h | (1ULL << 63)) & ~CC_WORKER_MASK;
}

static uint32_t
cc_home(const fg_clientconns_t *t, uint64_t client)
{
    return (uint32_t) (client >> CC_WORKER_BITS) & t->mask;
}

/* Sums @client's counts; *@mine: @worker's entry or -1; *@free: the
 * first free or never-used entry in the window, or -1. */
static uint64_t
cc_scan(const fg_clientconns_t *t, uint64_t client, unsigned worker,
        int64_t *mine, int64_t *free_entry)
{
    const cc_entry_t *e;
    uint64_t          total = 0, word;
    uint32_t          home = cc_home(t, client), i, idx;

    *mine = -1;
    *free_entry = -1;
    for (i = 0; i < FG_CLIENTCONNS_PROBE; i++) {
        idx = (home + i) & t->mask;
        e = &t->entries[idx];
        word = atomic_load_explicit(&e->word, memory_order_acquire);
        if (word == CC_EMPTY || word == CC_FREE) {
            if (*free_entry < 0) {
                *free_entry = idx;
            }
            if (word == CC_EMPTY) {
                break;   /* no entry of anyone's lies beyond */
            }
            continue;
        }
        if ((word & ~CC_WORKER_MASK) != client) {
            continue;
        }
        total += atomic_load_explicit(&e->count, memory_order_relaxed);
        if ((word & CC_WORKER_MASK) == worker) {
            *mine = idx;
        }
    }
    return total;
}

int64_t
fg_clientconns_take(fg_clientconns_t *t, unsigned worker, uint64_t client,
                    uint64_t *total)
{
    uint64_t expect;
    int64_t  mine, free_entry;
    int      tries;

    for (tries = 0; tries < CC_CLAIM_TRIES; tries++) {
        *total = cc_scan(t, client, worker, &mine, &free_entry);
        if (mine >= 0) {
            atomic_fetch_add_explicit(&t->entries[mine].count, 1,
                                      memory_order_relaxed);
            *total += 1;
            return mine;
        }
        if (free_entry < 0) {
            break;
        }
        expect = atomic_load_explicit(&t->entries[free_entry].word,
                                      memory_order_relaxed);
        if (expect != CC_EMPTY && expect != CC_FREE) {
            continue;   /* taken since the scan */
        }
        if (atomic_compare_exchange_strong_explicit(
                &t->entries[free_entry].word, &expect,
                client | worker, memory_order_acq_rel,
                memory_order_relaxed)) {
            /* A free entry's count is 0: whoever freed it counted down
             * to 0 first. */
            atomic_fetch_add_explicit(&t->entries[free_entry].count, 1,
                                      memory_order_relaxed);
            *total += 1;
            return free_entry;
        }
        /* Another worker claimed it first: scan again. */
    }
    *total += 1;
    return -1;
}

void
fg_clientconns_give(fg_clientconns_t *t, int64_t entry)
{
    cc_entry_t *e = &t->entries[(uint32_t) entry & t->mask];

    if (atomic_fetch_sub_explicit(&e->count, 1, memory_order_relaxed) == 1) {
        atomic_store_explicit(&e->word, CC_FREE, memory_order_release);
    }
}

uint64_t
fg_clientconns_count(const fg_clientconns_t *t, uint64_t client)
{
    int64_t mine, free_entry;

    return cc_scan(t, client, CC_WORKER_MASK + 1, &mine, &free_entry);
}

uint64_t
fg_clientconns_release_worker(fg_clientconns_t *t, unsigned worker)
{
    uint64_t word, held = 0;
    uint32_t i;

    for (i = 0; i < t->slots; i++) {
        word = atomic_load_explicit(&t->entries[i].word,
                                    memory_order_relaxed);
        if (word == CC_EMPTY || word == CC_FREE
            || (word & CC_WORKER_MASK) != worker) {
            continue;
        }
        held += atomic_exchange_explicit(&t->entries[i].count, 0,
                                         memory_order_relaxed);
        atomic_store_explicit(&t->entries[i].word, CC_FREE,
                              memory_order_release);
    }
    return held;
}
