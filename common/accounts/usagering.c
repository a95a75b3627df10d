/*
 * usagering.c: per-worker single-producer/single-consumer rings of usage
 * records in shm.
 *
 * Why one ring per producer and not one shared ring: with several
 * producers a slot is claimed (a CAS on head) before it is written, and a
 * producer killed between the two leaves a claimed, never-published slot
 * that stalls the consumer for good (reliability.md 3.3). With one
 * producer per ring, head only moves after the record is whole:
 *
 *   producer: tail (acquire) → full? refuse → write slot[head % cap]
 *             → head = head + 1 (release)
 *   consumer: head (acquire) → copy slots [tail, head)
 *             → (journal write, fsync) → tail = tail + n (release)
 *
 * 1) The release on head orders the record's bytes before the new head,
 *    so the consumer never copies a half-written record, and a producer
 *    killed anywhere before that store has published nothing: its
 *    half-written slot is beyond head and the next producer of the ring
 *    (the respawned worker, which reads head from shm) overwrites it.
 * 2) The release on tail orders the consumer's copies before the slot is
 *    handed back, so the producer never overwrites a record being read.
 * 3) Each position has one writer (head: the producer, tail: the
 *    consumer), so plain load + store suffice; no CAS, no lock a dead
 *    process could hold.
 *
 * Sequence numbers come from one counter for the whole region
 * (fetch_add, relaxed: only uniqueness matters, and a ring's producer
 * takes its numbers in order, so they increase within a ring). A number
 * taken by a producer that died before publishing is simply never used.
 *
 * Every field of the region is 64-bit or smaller and lock-free (shm.h
 * asserts it); the region holds no pointers.
 */

#include <stdatomic.h>
#include <string.h>

#include "common/accounts/usagering.h"

#define USAGERING_MAGIC  0x31676e7267737566ULL   /* "fusgrng1" */
#define USAGERING_LINE   64

typedef struct {
    uint64_t ur_magic;
    uint32_t ur_rings;              /* workers + 1 (the master's) */
    uint32_t ur_capacity;           /* records per ring */
    uint64_t ur_stride;             /* bytes from one ring to the next */
    uint64_t ur_rings_offset;
    uint64_t ur_bitmap_offset;
    uint8_t  ur_pad[24];
} usagering_header_t;

_Static_assert(sizeof(usagering_header_t) == USAGERING_LINE,
               "usage ring header layout");

/* A ring's positions, each on its own line: they have different writers. */
typedef struct {
    _Atomic uint64_t rc_head;       /* written by the producer only */
    uint8_t          rc_pad[USAGERING_LINE - 8];
    _Atomic uint64_t rc_tail;       /* written by the consumer only */
    uint8_t          rc_pad2[USAGERING_LINE - 8];
} usagering_ctl_t;

_Static_assert(sizeof(usagering_ctl_t) == 2 * USAGERING_LINE,
               "usage ring control layout");

struct fg_usagering_s {
    usagering_header_t hdr;
    _Atomic uint64_t   ur_next_seq; /* fetch_add by every producer */
    uint8_t            ur_pad[USAGERING_LINE - 8];
};

_Static_assert(sizeof(struct fg_usagering_s) == 2 * USAGERING_LINE,
               "usage ring region head layout");

static size_t usagering_align(size_t n);
static size_t usagering_bitmap_bytes(unsigned rings);
static _Atomic uint64_t *usagering_bitmap(const fg_usagering_t *r);
static usagering_ctl_t *usagering_ctl(const fg_usagering_t *r,
                                      unsigned ring);
static fg_usage_record_t *usagering_slots(usagering_ctl_t *c);
static void usagering_activate(fg_usagering_t *r, unsigned ring);
static int usagering_is_active(const fg_usagering_t *r, unsigned ring);
static usagering_ctl_t *usagering_ends(const fg_usagering_t *r,
                                       unsigned ring, uint64_t *head,
                                       uint64_t *tail);

static size_t
usagering_align(size_t n)
{
    return (n + USAGERING_LINE - 1) / USAGERING_LINE * USAGERING_LINE;
}

static size_t
usagering_bitmap_bytes(unsigned rings)
{
    return usagering_align((rings + 63) / 64 * sizeof(uint64_t));
}

static _Atomic uint64_t *
usagering_bitmap(const fg_usagering_t *r)
{
    return (_Atomic uint64_t *) ((char *) r + r->hdr.ur_bitmap_offset);
}

static usagering_ctl_t *
usagering_ctl(const fg_usagering_t *r, unsigned ring)
{
    return (usagering_ctl_t *) ((char *) r + r->hdr.ur_rings_offset
                                + (size_t) ring * r->hdr.ur_stride);
}

static fg_usage_record_t *
usagering_slots(usagering_ctl_t *c)
{
    return (fg_usage_record_t *) (c + 1);
}

size_t
fg_usagering_bytes(unsigned workers, uint32_t capacity)
{
    size_t stride;

    if (workers == 0 || workers > FG_USAGERING_WORKERS_MAX
        || capacity == 0 || capacity > FG_USAGERING_CAPACITY_MAX) {
        return 0;
    }
    stride = usagering_align(sizeof(usagering_ctl_t)
                             + (size_t) capacity
                               * sizeof(fg_usage_record_t));
    return sizeof(fg_usagering_t) + usagering_bitmap_bytes(workers + 1)
           + (size_t) (workers + 1) * stride;
}

fg_usagering_t *
fg_usagering_init(void *mem, size_t bytes, unsigned workers,
                  uint32_t capacity, fg_err_t *err)
{
    fg_usagering_t *r = mem;
    size_t          need = fg_usagering_bytes(workers, capacity);

    if (need == 0) {
        fg_err_set(err, FG_E_OUT_OF_RANGE, NULL,
                   "usage rings: %u workers of %u records: need 1..%u "
                   "workers and 1..%u records", workers, capacity,
                   FG_USAGERING_WORKERS_MAX, FG_USAGERING_CAPACITY_MAX);
        return NULL;
    }
    if (mem == NULL || bytes < need || ((uintptr_t) mem & 63) != 0) {
        fg_err_set(err, FG_E_INTERNAL, NULL,
                   "usage ring region of %zu bytes, need %zu, 64-byte "
                   "aligned", bytes, need);
        return NULL;
    }

    /* The rings are zero already (fresh memory): writing them would make
     * every page of every ring resident. */
    memset(r, 0, sizeof(*r));
    r->hdr.ur_magic = USAGERING_MAGIC;
    r->hdr.ur_rings = workers + 1;
    r->hdr.ur_capacity = capacity;
    r->hdr.ur_bitmap_offset = sizeof(*r);
    r->hdr.ur_rings_offset = sizeof(*r) + usagering_bitmap_bytes(workers + 1);
    r->hdr.ur_stride = usagering_align(sizeof(usagering_ctl_t)
                                       + (size_t) capacity
                                         * sizeof(fg_usage_record_t));
    memset(usagering_bitmap(r), 0, usagering_bitmap_bytes(workers + 1));
    atomic_store_explicit(&r->ur_next_seq, 1, memory_order_release);
    return r;
}

unsigned
fg_usagering_rings(const fg_usagering_t *r)
{
    return r->hdr.ur_rings;
}

unsigned
fg_usagering_master(const fg_usagering_t *r)
{
    return r->hdr.ur_rings - 1;
}

uint32_t
fg_usagering_capacity(const fg_usagering_t *r)
{
    return r->hdr.ur_capacity;
}

static void
usagering_activate(fg_usagering_t *r, unsigned ring)
{
    _Atomic uint64_t *word = usagering_bitmap(r) + ring / 64;
    uint64_t          bit = 1ULL << (ring % 64);

    /* A read first: after the first push the line stays shared, clean. */
    if ((atomic_load_explicit(word, memory_order_relaxed) & bit) == 0) {
        atomic_fetch_or_explicit(word, bit, memory_order_release);
    }
}

static int
usagering_is_active(const fg_usagering_t *r, unsigned ring)
{
    return (atomic_load_explicit(usagering_bitmap(r) + ring / 64,
                                 memory_order_acquire)
            >> (ring % 64)) & 1;
}

int
fg_usagering_push(fg_usagering_t *r, unsigned ring,
                  const fg_usage_record_t *rec, uint64_t *seq)
{
    usagering_ctl_t   *c;
    fg_usage_record_t *slot;
    uint64_t           head, tail, s;

    if (ring >= r->hdr.ur_rings) {
        return FG_ERR;
    }
    c = usagering_ctl(r, ring);
    head = atomic_load_explicit(&c->rc_head, memory_order_relaxed);
    tail = atomic_load_explicit(&c->rc_tail, memory_order_acquire);
    if (head - tail >= r->hdr.ur_capacity) {
        return FG_ERR;
    }
    usagering_activate(r, ring);

    s = atomic_fetch_add_explicit(&r->ur_next_seq, 1, memory_order_relaxed);
    slot = usagering_slots(c) + head % r->hdr.ur_capacity;
    memcpy(slot, rec, sizeof(*slot));
    slot->seq = s;
    slot->ring = ring;

    /* The publication: everything above is visible before this. */
    atomic_store_explicit(&c->rc_head, head + 1, memory_order_release);
    if (seq != NULL) {
        *seq = s;
    }
    return FG_OK;
}

/*
 * The control block of an active @ring and its two ends, tail loaded
 * first, or NULL for an inactive or unknown ring. Two loads, not one
 * snapshot: a reader that is neither side may see a tail newer than the
 * head it loaded, and must clamp rather than wrap.
 */
static usagering_ctl_t *
usagering_ends(const fg_usagering_t *r, unsigned ring, uint64_t *head,
               uint64_t *tail)
{
    usagering_ctl_t *c;

    if (ring >= r->hdr.ur_rings || !usagering_is_active(r, ring)) {
        return NULL;
    }
    c = usagering_ctl(r, ring);
    *tail = atomic_load_explicit(&c->rc_tail, memory_order_acquire);
    *head = atomic_load_explicit(&c->rc_head, memory_order_acquire);
    return c;
}

uint32_t
fg_usagering_depth(const fg_usagering_t *r, unsigned ring)
{
    uint64_t head, tail;

    if (usagering_ends(r, ring, &head, &tail) == NULL || head < tail) {
        return 0;
    }
    return head - tail > r->hdr.ur_capacity ? r->hdr.ur_capacity
                                            : (uint32_t) (head - tail);
}

uint32_t
fg_usagering_free(const fg_usagering_t *r, unsigned ring)
{
    if (ring >= r->hdr.ur_rings) {
        return 0;
    }
    return r->hdr.ur_capacity - fg_usagering_depth(r, ring);
}

uint64_t
fg_usagering_pushed(const fg_usagering_t *r, unsigned ring)
{
    if (ring >= r->hdr.ur_rings) {
        return 0;
    }
    return atomic_load_explicit(&usagering_ctl(r, ring)->rc_head,
                                memory_order_acquire);
}

uint64_t
fg_usagering_committed(const fg_usagering_t *r, unsigned ring)
{
    if (ring >= r->hdr.ur_rings) {
        return 0;
    }
    return atomic_load_explicit(&usagering_ctl(r, ring)->rc_tail,
                                memory_order_acquire);
}

uint64_t
fg_usagering_depth_total(const fg_usagering_t *r)
{
    uint64_t sum = 0;
    int      i;

    for (i = fg_usagering_next_active(r, 0); i >= 0;
         i = fg_usagering_next_active(r, (unsigned) i + 1)) {
        sum += fg_usagering_depth(r, (unsigned) i);
    }
    return sum;
}

int
fg_usagering_oldest(const fg_usagering_t *r, unsigned ring,
                    fg_usage_record_t *out)
{
    usagering_ctl_t *c;
    uint64_t         head, tail;

    c = usagering_ends(r, ring, &head, &tail);
    if (c == NULL || head <= tail || head - tail > r->hdr.ur_capacity) {
        return 0;
    }
    memcpy(out, usagering_slots(c) + tail % r->hdr.ur_capacity,
           sizeof(*out));
    /* The producer reuses the slot only after the consumer moved the tail
     * past it: an unchanged tail means the copy is whole. */
    atomic_thread_fence(memory_order_acquire);
    return atomic_load_explicit(&c->rc_tail, memory_order_relaxed) == tail;
}

int
fg_usagering_next_active(const fg_usagering_t *r, unsigned from)
{
    _Atomic uint64_t *bits = usagering_bitmap(r);
    uint64_t          word;
    unsigned          i;

    for (i = from; i < r->hdr.ur_rings; i = (i / 64 + 1) * 64) {
        word = atomic_load_explicit(&bits[i / 64], memory_order_acquire)
               >> (i % 64);
        if (word != 0) {
            i += (unsigned) __builtin_ctzll(word);
            return i < r->hdr.ur_rings ? (int) i : -1;
        }
    }
    return -1;
}

int
fg_usagering_drain(fg_usagering_t *r, unsigned ring, size_t skip,
                   fg_usage_record_t *out, size_t max, size_t *n)
{
    usagering_ctl_t   *c;
    fg_usage_record_t *slots;
    uint64_t           head, tail, pos, avail;
    uint32_t           cap = r->hdr.ur_capacity;
    size_t             i, k;

    *n = 0;
    if (ring >= r->hdr.ur_rings) {
        return FG_ERR;
    }
    if (!usagering_is_active(r, ring)) {
        return FG_OK;
    }
    c = usagering_ctl(r, ring);
    tail = atomic_load_explicit(&c->rc_tail, memory_order_relaxed);
    head = atomic_load_explicit(&c->rc_head, memory_order_acquire);
    if (head < tail || head - tail > cap) {
        return FG_ERR;
    }
    avail = head - tail;
    if (skip >= avail) {
        return FG_OK;
    }
    k = avail - skip < max ? (size_t) (avail - skip) : max;
    slots = usagering_slots(c);
    for (i = 0, pos = tail + skip; i < k; i++, pos++) {
        memcpy(&out[i], &slots[pos % cap], sizeof(out[i]));
    }
    *n = k;
    return FG_OK;
}

int
fg_usagering_commit(fg_usagering_t *r, unsigned ring, size_t n)
{
    usagering_ctl_t *c;
    uint64_t         head, tail;

    if (ring >= r->hdr.ur_rings) {
        return FG_ERR;
    }
    if (n == 0) {
        return FG_OK;
    }
    c = usagering_ctl(r, ring);
    tail = atomic_load_explicit(&c->rc_tail, memory_order_relaxed);
    head = atomic_load_explicit(&c->rc_head, memory_order_acquire);
    if (head < tail || head - tail < n) {
        return FG_ERR;
    }
    /* Release: the copies made by drain happen before the slots return. */
    atomic_store_explicit(&c->rc_tail, tail + n, memory_order_release);
    return FG_OK;
}

uint64_t
fg_usagering_next_seq(const fg_usagering_t *r)
{
    return atomic_load_explicit(&r->ur_next_seq, memory_order_acquire);
}

void
fg_usagering_raise_seq(fg_usagering_t *r, uint64_t next_seq)
{
    uint64_t cur = atomic_load_explicit(&r->ur_next_seq,
                                        memory_order_relaxed);

    while (cur < next_seq
           && !atomic_compare_exchange_weak_explicit(
                  &r->ur_next_seq, &cur, next_seq, memory_order_acq_rel,
                  memory_order_relaxed)) {
    }
}
