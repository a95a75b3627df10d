/*
 * test_usagering.c: the per-worker usage rings in shm
 * (common/accounts/usagering.h). Sizes and arguments; fill, full, drain, commit;
 * the two-step drain re-delivering until committed; wrap-around over
 * many laps; sequence numbers unique and raised, never lowered; untouched
 * rings costing no memory; a producer that died in the middle of a push
 * leaving a clean prefix, both staged byte by byte and by real SIGKILLs;
 * and producers in several processes with the consumer in another, every
 * record drained exactly once and in order.
 *
 * Records carry a number n and fields derived from it everywhere in the
 * record (first bytes to last), so a record copied while half-written
 * would not check.
 */

#include "common/accounts/usagering.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/fg_test.h"

#define ALIGN64(n)  (((n) + 63) / 64 * 64)

typedef struct {
    void           *mem;
    size_t          bytes;
    fg_usagering_t *r;
} ring_fixture_t;

static void
fixture_new(ring_fixture_t *f, unsigned workers, uint32_t capacity)
{
    fg_err_t err;

    f->bytes = fg_usagering_bytes(workers, capacity);
    f->mem = mmap(NULL, f->bytes, PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (f->mem == MAP_FAILED) {
        FG_TEST_FAIL("mmap(%zu) failed", f->bytes);
        exit(1);
    }
    f->r = fg_usagering_init(f->mem, f->bytes, workers, capacity, &err);
    if (f->r == NULL) {
        FG_TEST_FAIL("init: %s", err.msg);
        exit(1);
    }
}

static void
fixture_free(ring_fixture_t *f)
{
    munmap(f->mem, f->bytes);
}

/* Record number @n of producer @who: every part of it says n. */
static void
make(fg_usage_record_t *rec, unsigned who, uint64_t n)
{
    char id[64];

    fg_usage_init(rec);
    snprintf(id, sizeof(id), "req-%u-%llu", who, (unsigned long long) n);
    FG_USAGE_SET(rec->request_id, id);
    rec->prompt_tokens = (int64_t) n;
    rec->completion_tokens = (int64_t) n * 2;
    rec->charged_micro = (int64_t) n * 3 + who;
    rec->energy_kwh = (double) n / 1024.0;
    memset(rec->model_served, 'a' + (int) (n % 26),
           sizeof(rec->model_served) - 1);
    memset(rec->error_code, 'A' + (int) (n % 26),
           sizeof(rec->error_code) - 1);
    rec->attempts[FG_USAGE_MAX_ATTEMPTS - 1].latency_us = (int64_t) n;
}

/* 1 when @rec is whole: every field agrees with prompt_tokens. */
static int
whole(const fg_usage_record_t *rec, unsigned who)
{
    fg_usage_record_t want;

    if (rec->prompt_tokens < 0) {
        return 0;
    }
    make(&want, who, (uint64_t) rec->prompt_tokens);
    want.seq = rec->seq;
    want.ring = rec->ring;
    return memcmp(&want, rec, sizeof(want)) == 0;
}

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- tests ------------------------------------------------------------ */

static void
sizes_and_arguments_are_checked(void)
{
    fg_err_t err;
    void    *mem;
    size_t   bytes = fg_usagering_bytes(2, 8);

    expect_int_eq(fg_usagering_bytes(0, 8), 0);
    expect_int_eq(fg_usagering_bytes(2, 0), 0);
    expect_int_eq(fg_usagering_bytes(2, FG_USAGERING_CAPACITY_MAX + 1), 0);
    expect_int_eq(fg_usagering_bytes(FG_USAGERING_WORKERS_MAX + 1, 8), 0);
    /* Header, sequence line, bitmap line, three rings. */
    expect_int_eq(bytes, 64 + 64 + 64
                         + 3 * ALIGN64(128 + 8 * sizeof(fg_usage_record_t)));

    mem = aligned_alloc(64, ALIGN64(bytes) + 64);
    memset(mem, 0, ALIGN64(bytes) + 64);
    expect_true(fg_usagering_init(mem, bytes - 1, 2, 8, &err) == NULL);
    expect_true(fg_usagering_init((char *) mem + 8, bytes, 2, 8, &err)
                == NULL);
    expect_true(fg_usagering_init(mem, bytes, 0, 8, &err) == NULL);
    expect_int_eq(err.code, FG_E_OUT_OF_RANGE);
    expect_true(fg_usagering_init(mem, bytes, 2, 8, &err) != NULL);
    free(mem);
}

static void
a_ring_fills_refuses_when_full_and_frees_on_commit(void)
{
    ring_fixture_t    f;
    fg_usage_record_t rec, out[16];
    uint64_t          seq = 0;
    size_t            n = 99;
    unsigned          i;

    fixture_new(&f, 2, 8);
    expect_int_eq(fg_usagering_rings(f.r), 3);
    expect_int_eq(fg_usagering_master(f.r), 2);
    expect_int_eq(fg_usagering_capacity(f.r), 8);
    expect_int_eq(fg_usagering_free(f.r, 1), 8);
    expect_int_eq(fg_usagering_depth(f.r, 1), 0);

    for (i = 0; i < 8; i++) {
        make(&rec, 1, i);
        expect_int_eq(fg_usagering_push(f.r, 1, &rec, &seq), FG_OK);
        expect_int_eq(seq, i + 1);
        expect_int_eq(fg_usagering_free(f.r, 1), 7 - i);
    }
    make(&rec, 1, 8);
    expect_int_eq(fg_usagering_push(f.r, 1, &rec, &seq), FG_ERR);
    expect_int_eq(seq, 8);                      /* untouched on refusal */
    expect_int_eq(fg_usagering_depth(f.r, 1), 8);
    expect_int_eq(fg_usagering_free(f.r, 1), 0);
    expect_int_eq(fg_usagering_free(f.r, 0), 8);  /* other rings unaffected */
    expect_int_eq(fg_usagering_next_seq(f.r), 9);

    expect_int_eq(fg_usagering_drain(f.r, 1, 0, out, 16, &n), FG_OK);
    expect_int_eq(n, 8);
    for (i = 0; i < 8; i++) {
        expect_true(whole(&out[i], 1));
        expect_int_eq(out[i].prompt_tokens, i);
        expect_int_eq(out[i].seq, i + 1);
        expect_int_eq(out[i].ring, 1);
    }
    /* Copied, not taken: still full until the commit. */
    expect_int_eq(fg_usagering_free(f.r, 1), 0);
    expect_int_eq(fg_usagering_commit(f.r, 1, 3), FG_OK);
    expect_int_eq(fg_usagering_free(f.r, 1), 3);
    expect_int_eq(fg_usagering_push(f.r, 1, &rec, NULL), FG_OK);
    expect_int_eq(fg_usagering_depth(f.r, 1), 6);
    fixture_free(&f);
}

static void
oldest_is_the_record_at_the_tail_until_committed(void)
{
    ring_fixture_t    f;
    fg_usage_record_t rec, got;
    unsigned          i;

    fixture_new(&f, 2, 4);
    expect_int_eq(fg_usagering_oldest(f.r, 0, &got), 0);    /* empty */
    expect_int_eq(fg_usagering_oldest(f.r, 9, &got), 0);    /* bad ring */
    /* Past a wrap, so the tail is not slot 0. */
    for (i = 0; i < 6; i++) {
        make(&rec, 0, i);
        expect_int_eq(fg_usagering_push(f.r, 0, &rec, NULL), FG_OK);
        if (i >= 2) {
            expect_int_eq(fg_usagering_commit(f.r, 0, 1), FG_OK);
        }
    }
    expect_int_eq(fg_usagering_oldest(f.r, 0, &got), 1);
    expect_true(whole(&got, 0));
    expect_int_eq(got.prompt_tokens, 4);
    expect_int_eq(fg_usagering_commit(f.r, 0, 1), FG_OK);
    expect_int_eq(fg_usagering_oldest(f.r, 0, &got), 1);
    expect_int_eq(got.prompt_tokens, 5);
    expect_int_eq(fg_usagering_commit(f.r, 0, 1), FG_OK);
    expect_int_eq(fg_usagering_oldest(f.r, 0, &got), 0);
    fixture_free(&f);
}

static void
drain_redelivers_until_commit_skip_passes_the_uncommitted(void)
{
    ring_fixture_t    f;
    fg_usage_record_t rec, out[8];
    size_t            n;
    unsigned          i;

    fixture_new(&f, 1, 8);
    for (i = 0; i < 6; i++) {
        make(&rec, 0, i);
        expect_int_eq(fg_usagering_push(f.r, 0, &rec, NULL), FG_OK);
    }
    /* A syncer that died after copying: the next one gets the same. */
    expect_int_eq(fg_usagering_drain(f.r, 0, 0, out, 4, &n), FG_OK);
    expect_int_eq(n, 4);
    expect_int_eq(fg_usagering_drain(f.r, 0, 0, out, 4, &n), FG_OK);
    expect_int_eq(n, 4);
    expect_int_eq(out[0].prompt_tokens, 0);
    /* Skip what was copied but not committed yet. */
    expect_int_eq(fg_usagering_drain(f.r, 0, 4, out, 8, &n), FG_OK);
    expect_int_eq(n, 2);
    expect_int_eq(out[0].prompt_tokens, 4);
    expect_int_eq(out[1].prompt_tokens, 5);
    expect_int_eq(fg_usagering_drain(f.r, 0, 6, out, 8, &n), FG_OK);
    expect_int_eq(n, 0);
    expect_int_eq(fg_usagering_drain(f.r, 0, 60, out, 8, &n), FG_OK);
    expect_int_eq(n, 0);

    /* Commit no more than waits. */
    expect_int_eq(fg_usagering_commit(f.r, 0, 7), FG_ERR);
    expect_int_eq(fg_usagering_depth(f.r, 0), 6);
    expect_int_eq(fg_usagering_commit(f.r, 0, 0), FG_OK);
    expect_int_eq(fg_usagering_commit(f.r, 0, 6), FG_OK);
    expect_int_eq(fg_usagering_depth(f.r, 0), 0);
    expect_int_eq(fg_usagering_drain(f.r, 0, 0, out, 8, &n), FG_OK);
    expect_int_eq(n, 0);
    fixture_free(&f);
}

static void
a_bad_ring_index_is_refused_everywhere(void)
{
    ring_fixture_t    f;
    fg_usage_record_t rec, out[1];
    size_t            n = 5;

    fixture_new(&f, 1, 4);
    make(&rec, 0, 0);
    expect_int_eq(fg_usagering_push(f.r, 2, &rec, NULL), FG_ERR);
    expect_int_eq(fg_usagering_drain(f.r, 2, 0, out, 1, &n), FG_ERR);
    expect_int_eq(n, 0);
    expect_int_eq(fg_usagering_commit(f.r, 2, 1), FG_ERR);
    expect_int_eq(fg_usagering_free(f.r, 2), 0);
    expect_int_eq(fg_usagering_depth(f.r, 2), 0);
    expect_int_eq(fg_usagering_next_seq(f.r), 1);
    fixture_free(&f);
}

static void
records_stay_whole_and_in_order_over_many_laps(void)
{
    ring_fixture_t    f;
    fg_usage_record_t rec, out[5];
    uint64_t          pushed = 0, seen = 0, last_seq = 0;
    size_t            n, i;
    int               lap, ok = 1;

    /* Capacity 5 against batches of 3 and 4: every slot boundary and
     * every wrap position is met. */
    fixture_new(&f, 1, 5);
    for (lap = 0; lap < 400; lap++) {
        unsigned burst = 3 + (unsigned) (lap % 2);

        while (burst-- > 0) {
            make(&rec, 0, pushed);
            if (fg_usagering_push(f.r, 0, &rec, NULL) == FG_OK) {
                pushed++;
            }
        }
        expect_int_eq(fg_usagering_drain(f.r, 0, 0, out,
                                         (size_t) (1 + lap % 5), &n), FG_OK);
        for (i = 0; i < n; i++) {
            ok &= whole(&out[i], 0);
            ok &= out[i].prompt_tokens == (int64_t) seen;
            ok &= out[i].seq > last_seq;
            last_seq = out[i].seq;
            seen++;
        }
        expect_int_eq(fg_usagering_commit(f.r, 0, n), FG_OK);
    }
    expect_true(ok);
    expect_true(pushed > 5 * 100);
    expect_int_eq(pushed - seen, fg_usagering_depth(f.r, 0));
    fixture_free(&f);
}

static void
seqs_are_unique_across_rings_and_raised_never_lowered(void)
{
    ring_fixture_t    f;
    fg_usage_record_t rec;
    uint64_t          s0, s1, s2;

    fixture_new(&f, 2, 4);
    make(&rec, 0, 0);
    expect_int_eq(fg_usagering_push(f.r, 0, &rec, &s0), FG_OK);
    expect_int_eq(fg_usagering_push(f.r, 1, &rec, &s1), FG_OK);
    expect_int_eq(fg_usagering_push(f.r, 2, &rec, &s2), FG_OK);
    expect_int_eq(s0, 1);
    expect_int_eq(s1, 2);
    expect_int_eq(s2, 3);

    fg_usagering_raise_seq(f.r, 1000);
    expect_int_eq(fg_usagering_next_seq(f.r), 1000);
    fg_usagering_raise_seq(f.r, 10);
    expect_int_eq(fg_usagering_next_seq(f.r), 1000);
    expect_int_eq(fg_usagering_push(f.r, 0, &rec, &s0), FG_OK);
    expect_int_eq(s0, 1000);
    fixture_free(&f);
}

static void
only_pushed_rings_are_active_and_counted(void)
{
    ring_fixture_t    f;
    fg_usage_record_t rec;

    fixture_new(&f, 200, 4);
    expect_int_eq(fg_usagering_next_active(f.r, 0), -1);
    make(&rec, 0, 0);
    expect_int_eq(fg_usagering_push(f.r, 3, &rec, NULL), FG_OK);
    expect_int_eq(fg_usagering_push(f.r, 64, &rec, NULL), FG_OK);
    expect_int_eq(fg_usagering_push(f.r, 64, &rec, NULL), FG_OK);
    expect_int_eq(fg_usagering_push(f.r, fg_usagering_master(f.r), &rec,
                                    NULL), FG_OK);
    expect_int_eq(fg_usagering_next_active(f.r, 0), 3);
    expect_int_eq(fg_usagering_next_active(f.r, 3), 3);
    expect_int_eq(fg_usagering_next_active(f.r, 4), 64);
    expect_int_eq(fg_usagering_next_active(f.r, 65), 200);
    expect_int_eq(fg_usagering_next_active(f.r, 201), -1);
    expect_int_eq(fg_usagering_next_active(f.r, 5000), -1);
    expect_int_eq(fg_usagering_depth_total(f.r), 4);
    /* Drained rings stay active (they may fill again). */
    expect_int_eq(fg_usagering_commit(f.r, 64, 2), FG_OK);
    expect_int_eq(fg_usagering_next_active(f.r, 4), 64);
    expect_int_eq(fg_usagering_depth_total(f.r), 2);
    fixture_free(&f);
}

static void
untouched_rings_cost_no_memory(void)
{
    ring_fixture_t    f;
    fg_usage_record_t rec, out[4];
    unsigned char    *vec;
    size_t            pages, i, resident = 0, n;
    long              page = sysconf(_SC_PAGESIZE);
    int               ring;

    /* The arena's size: 512 worker slots of 1024 records, ~200 MB. */
    fixture_new(&f, 512, 1024);
    expect_true(f.bytes > 200u * 1000 * 1000);
    make(&rec, 0, 0);
    expect_int_eq(fg_usagering_push(f.r, 300, &rec, NULL), FG_OK);
    expect_int_eq(fg_usagering_push(f.r, 300, &rec, NULL), FG_OK);
    for (ring = fg_usagering_next_active(f.r, 0); ring >= 0;
         ring = fg_usagering_next_active(f.r, (unsigned) ring + 1)) {
        expect_int_eq(fg_usagering_drain(f.r, (unsigned) ring, 0, out, 4,
                                         &n), FG_OK);
        expect_int_eq(fg_usagering_commit(f.r, (unsigned) ring, n), FG_OK);
    }
    expect_int_eq(fg_usagering_depth_total(f.r), 0);
    expect_int_eq(fg_usagering_depth(f.r, 17), 0);
    expect_int_eq(fg_usagering_free(f.r, 17), 1024);

    pages = (f.bytes + (size_t) page - 1) / (size_t) page;
    vec = malloc(pages);
    expect_int_eq(mincore(f.mem, f.bytes, vec), 0);
    for (i = 0; i < pages; i++) {
        resident += vec[i] & 1;
    }
    /* The header page and ring 300's first page or two. */
    if (resident > 4) {
        FG_TEST_FAIL("%zu of %zu pages resident", resident, pages);
    }
    free(vec);
    fixture_free(&f);
}

/*
 * A producer killed in the middle of a push, staged: it wrote part of the
 * next record into the slot at head (here: garbage over the whole slot)
 * and died before publishing. The consumer sees exactly the records
 * published before; the next producer of the ring overwrites the slot.
 * The slot's address comes from the layout documented in usagering.h.
 */
static void
a_producer_dead_before_publishing_leaves_a_clean_prefix(void)
{
    ring_fixture_t     f;
    fg_usage_record_t  rec, out[8];
    size_t             n, stride, rings_offset;
    unsigned char     *slot;
    uint64_t          *head;
    unsigned           i;

    fixture_new(&f, 2, 8);
    for (i = 0; i < 3; i++) {
        make(&rec, 1, i);
        expect_int_eq(fg_usagering_push(f.r, 1, &rec, NULL), FG_OK);
    }
    stride = ALIGN64(128 + 8 * sizeof(fg_usage_record_t));
    rings_offset = 64 + 64 + 64;
    head = (uint64_t *) ((char *) f.mem + rings_offset + 1 * stride);
    expect_int_eq(*head, 3);
    slot = (unsigned char *) f.mem + rings_offset + 1 * stride + 128
           + 3 * sizeof(fg_usage_record_t);
    memset(slot, 0xee, sizeof(fg_usage_record_t) / 2);   /* half a record */

    expect_int_eq(fg_usagering_drain(f.r, 1, 0, out, 8, &n), FG_OK);
    expect_int_eq(n, 3);
    for (i = 0; i < n; i++) {
        expect_true(whole(&out[i], 1));
        expect_int_eq(out[i].prompt_tokens, i);
    }
    expect_int_eq(fg_usagering_depth(f.r, 1), 3);

    /* The respawned worker pushes on: its record replaces the debris. */
    make(&rec, 1, 3);
    expect_int_eq(fg_usagering_push(f.r, 1, &rec, NULL), FG_OK);
    expect_int_eq(fg_usagering_drain(f.r, 1, 3, out, 8, &n), FG_OK);
    expect_int_eq(n, 1);
    expect_true(whole(&out[0], 1));
    expect_int_eq(out[0].prompt_tokens, 3);
    fixture_free(&f);
}

/* Pushes records @from, @from + 1, … onto @ring until @count (0: for
 * ever), waiting while the ring is full. Runs in a child. */
static void
produce(fg_usagering_t *r, unsigned ring, uint64_t from, uint64_t count)
{
    fg_usage_record_t rec;
    uint64_t          n;

    for (n = from; count == 0 || n < from + count; n++) {
        make(&rec, ring, n);
        while (fg_usagering_push(r, ring, &rec, NULL) != FG_OK) {
            sched_yield();
        }
    }
}

/* Drains @ring completely into checks: records @*next, @*next + 1, …,
 * whole, seqs increasing. Returns 0 on the first bad record. */
static int
consume(fg_usagering_t *r, unsigned ring, uint64_t *next, uint64_t *seq)
{
    fg_usage_record_t out[16];
    size_t            n, i;

    for (;;) {
        if (fg_usagering_drain(r, ring, 0, out, 16, &n) != FG_OK) {
            return 0;
        }
        if (n == 0) {
            return 1;
        }
        for (i = 0; i < n; i++) {
            if (!whole(&out[i], ring)
                || out[i].prompt_tokens != (int64_t) *next
                || out[i].seq <= *seq || out[i].ring != ring) {
                FG_TEST_FAIL("record %llu: got n %lld seq %llu",
                             (unsigned long long) *next,
                             (long long) out[i].prompt_tokens,
                             (unsigned long long) out[i].seq);
                return 0;
            }
            (*next)++;
            *seq = out[i].seq;
        }
        if (fg_usagering_commit(r, ring, n) != FG_OK) {
            return 0;
        }
    }
}

static void
producers_killed_at_random_leave_a_clean_prefix_each_time(void)
{
    ring_fixture_t f;
    uint64_t       next = 0, seq = 0, before;
    pid_t          pid;
    int            round, status, ok = 1;

    fixture_new(&f, 1, 16);
    srand(42);
    for (round = 0; round < 40 && ok; round++) {
        before = next;
        pid = fork();
        if (pid == 0) {
            produce(f.r, 0, next, 0);
            _exit(0);
        }
        /* Consume while it pushes, then kill it wherever it is. */
        {
            int64_t until = now_ms() + rand() % 4;

            while (now_ms() < until && ok) {
                ok &= consume(f.r, 0, &next, &seq);
            }
        }
        if (round % 3 == 0) {
            usleep((useconds_t) (rand() % 300));
        }
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        ok &= WIFSIGNALED(status);
        ok &= consume(f.r, 0, &next, &seq);
    }
    expect_true(ok);
    expect_true(next > 0);
    /* And a producer that ends cleanly continues the numbering. */
    pid = fork();
    if (pid == 0) {
        produce(f.r, 0, next, 100);
        _exit(0);
    }
    before = next;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        ok &= consume(f.r, 0, &next, &seq);
    }
    ok &= consume(f.r, 0, &next, &seq);
    expect_true(ok);
    expect_int_eq(next - before, 100);
    expect_true(next > 100);
    fixture_free(&f);
}

#define MP_WORKERS   3
#define MP_RECORDS   20000

/*
 * Three worker processes and one "master" process push 20 000 records
 * each through rings of 64; the consumer (this process) drains in the
 * syncer's two steps: copy a batch past what it holds uncommitted, then
 * commit everything held every few batches. Every record arrives exactly
 * once, in order per ring, with a seq no other record has.
 */
static void
processes_push_and_the_consumer_drains_each_once(void)
{
    ring_fixture_t    f;
    fg_usage_record_t out[37];
    uint64_t          next[MP_WORKERS + 1] = { 0 };
    uint64_t          last[MP_WORKERS + 1] = { 0 };
    size_t            held[MP_WORKERS + 1] = { 0 };
    uint64_t         *seqs, total = 0, k;
    pid_t             pids[MP_WORKERS + 1];
    unsigned          rings = MP_WORKERS + 1, ring;
    size_t            n, i;
    int64_t           deadline = now_ms() + 60000;
    int               status, ok = 1, all_exited = 1, round = 0;

    fixture_new(&f, MP_WORKERS, 64);
    seqs = malloc(sizeof(uint64_t) * MP_RECORDS * rings);
    for (ring = 0; ring < rings; ring++) {
        pids[ring] = fork();
        if (pids[ring] == 0) {
            produce(f.r, ring, 0, MP_RECORDS);
            _exit(0);
        }
    }
    while (total < (uint64_t) MP_RECORDS * rings && ok
           && now_ms() < deadline) {
        int a;

        round++;
        for (a = fg_usagering_next_active(f.r, 0); a >= 0;
             a = fg_usagering_next_active(f.r, (unsigned) a + 1)) {
            ring = (unsigned) a;
            ok &= fg_usagering_drain(f.r, ring, held[ring], out,
                                     1 + (size_t) (round % 37), &n) == FG_OK;
            for (i = 0; i < n && ok; i++) {
                if (!whole(&out[i], ring)
                    || out[i].prompt_tokens != (int64_t) next[ring]
                    || out[i].seq <= last[ring]) {
                    FG_TEST_FAIL("ring %u: record %llu is n %lld", ring,
                                 (unsigned long long) next[ring],
                                 (long long) out[i].prompt_tokens);
                    ok = 0;
                }
                next[ring]++;
                last[ring] = out[i].seq;
                seqs[total++] = out[i].seq;
            }
            held[ring] += n;
            if (round % 3 == 0 && held[ring] > 0) {
                ok &= fg_usagering_commit(f.r, ring, held[ring]) == FG_OK;
                held[ring] = 0;
            }
        }
    }
    for (ring = 0; ring < rings; ring++) {
        if (total < (uint64_t) MP_RECORDS * rings) {
            kill(pids[ring], SIGKILL);
        }
        waitpid(pids[ring], &status, 0);
        all_exited &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
        expect_int_eq(next[ring], MP_RECORDS);
    }
    expect_true(ok);
    expect_true(all_exited);
    expect_int_eq(total, (uint64_t) MP_RECORDS * rings);

    /* Unique seqs: 1 .. total, each once. */
    for (k = 0; k < total; k++) {
        uint64_t s = seqs[k];

        /* In place by cycle-sort on the value, since seqs are 1..total. */
        while (s >= 1 && s <= total && seqs[s - 1] != s) {
            uint64_t t = seqs[s - 1];

            seqs[s - 1] = s;
            s = t;
        }
    }
    for (k = 0; k < total; k++) {
        if (seqs[k] != k + 1) {
            FG_TEST_FAIL("seq %llu missing or repeated",
                         (unsigned long long) (k + 1));
            break;
        }
    }
    expect_int_eq(fg_usagering_next_seq(f.r), total + 1);
    free(seqs);
    fixture_free(&f);
}

int
main(void)
{
    static const fg_test_case_t cases[] = {
        FG_TEST_CASE(sizes_and_arguments_are_checked),
        FG_TEST_CASE(a_ring_fills_refuses_when_full_and_frees_on_commit),
        FG_TEST_CASE(oldest_is_the_record_at_the_tail_until_committed),
    FG_TEST_CASE(drain_redelivers_until_commit_skip_passes_the_uncommitted),
        FG_TEST_CASE(a_bad_ring_index_is_refused_everywhere),
        FG_TEST_CASE(records_stay_whole_and_in_order_over_many_laps),
        FG_TEST_CASE(seqs_are_unique_across_rings_and_raised_never_lowered),
        FG_TEST_CASE(only_pushed_rings_are_active_and_counted),
        FG_TEST_CASE(untouched_rings_cost_no_memory),
        FG_TEST_CASE(a_producer_dead_before_publishing_leaves_a_clean_prefix),
        FG_TEST_CASE(producers_killed_at_random_leave_a_clean_prefix_each_time),
        FG_TEST_CASE(processes_push_and_the_consumer_drains_each_once),
    };

    return fg_test_run("usagering", cases, sizeof(cases) / sizeof(cases[0]));
}
