#ifndef FG_COMMON_SHM_H
#define FG_COMMON_SHM_H

/*
 * The shared-memory arena the master creates before forking and every
 * worker inherits. It starts with a header (magic, layout version, sizes)
 * that fg_shm_attach() checks, then one cache-line-aligned slot per worker.
 * Each slot is written only by its worker (state, counters) or by the
 * master while the worker is dead (spawn and reap); readers sum slots.
 *
 * After the slots come the key table (common/accounts/keytable.h), written by the
 * syncer alone, the rate limiter's state (common/accounts/limiter.h) and the
 * metrics (common/base/metrics.h) and the energy ledger (common/accounts/ledger.h:
 * balances and reservations) and the usage rings (common/accounts/usagering.h, one
 * per worker slot and one for the master) and the connections per client
 * (common/accounts/clientconns.h) and the endpoints' health
 * (common/route/health.h) and the response store's counters
 * (common/store/respstore.h); bump FG_SHM_LAYOUT_VERSION
 * with any change (of these regions' records too: the usage record's
 * size is one). An arena a crashed run of another layout left is refused
 * at start-up, never reused or zeroed.
 * Only fixed-width integers and lock-free atomics live here; no pointers.
 */

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/base/errors.h"
#include "common/accounts/clientconns.h"
#include "common/accounts/keytable.h"
#include "common/accounts/ledger.h"
#include "common/accounts/limiter.h"
#include "common/base/metrics.h"
#include "common/accounts/usagering.h"
#include "common/route/health.h"
#include "common/store/respstore.h"

#define FG_SHM_MAGIC           0x31656761676c6678ULL   /* "xflgage1" */
#define FG_SHM_LAYOUT_VERSION  16      /* 8: the 1064-byte usage record,
                                        * 64-byte metrics series; 9: the
                                        * invalid-usage counters; 10: the
                                        * key record's usage position,
                                        * sh_ledger_loaded; 11: the
                                        * syncer's failure reason; 12:
                                        * connections per client; 13:
                                        * uncharged credit by series; 14:
                                        * the endpoints' health table,
                                        * the key record's routing preset
                                        * (kr_preset); 15: the key
                                        * record's default transforms
                                        * (kr_transforms), repaired and
                                        * compressed counters by series;
                                        * 16: the response store's
                                        * counters (sh_responses_*) */
#define FG_SHM_MAX_WORKERS     512     /* both generations during reload */
#define FG_SHM_FAILURE_MAX     248     /* bytes of the syncer's failure
                                        * reason, NUL included */

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2,
               "shm needs lock-free 64-bit atomics");

enum {
    FG_WORKER_FREE = 0,      /* slot unused */
    FG_WORKER_STARTING,      /* forked, not yet serving */
    FG_WORKER_READY,         /* accepting requests */
    FG_WORKER_DRAINING       /* finishing in-flight requests, then exits */
};

typedef struct {
    _Atomic uint32_t ws_state;           /* FG_WORKER_*; worker or master */
    _Atomic uint32_t ws_generation;      /* config generation it serves */
    _Atomic int64_t  ws_pid;
    _Atomic int64_t  ws_started_ms;
    _Atomic uint64_t ws_requests_total;  /* written by the worker only */
    _Atomic uint64_t ws_in_flight;       /* written by the worker only */
    _Atomic uint64_t ws_connections;     /* written by the worker only */
    uint8_t          ws_pad[16];
} fg_shm_worker_t;

_Static_assert(sizeof(fg_shm_worker_t) == 64, "worker slot is a cache line");

typedef struct {
    uint64_t         sh_magic;
    uint32_t         sh_layout_version;
    uint32_t         sh_header_bytes;
    uint64_t         sh_arena_bytes;
    uint32_t         sh_worker_slots;
    uint32_t         sh_worker_slot_bytes;
    uint64_t         sh_workers_offset;
    _Atomic uint32_t sh_generation;       /* current config generation */
    _Atomic uint32_t sh_workers_wanted;   /* of the current generation */
    _Atomic int64_t  sh_started_ms;
    uint64_t         sh_health_bytes;     /* after the clients region */
    uint64_t         sh_keys_offset;
    uint64_t         sh_keys_bytes;
    _Atomic uint32_t sh_keys_loaded;      /* 1 once the syncer loaded keys */
    _Atomic uint32_t sh_syncer_state;     /* FG_WORKER_*, for the syncer */
    _Atomic int64_t  sh_syncer_pid;
    _Atomic uint64_t sh_worker_restarts;  /* respawns after a death */
    uint64_t         sh_limiter_offset;
    uint64_t         sh_limiter_bytes;
    uint64_t         sh_metrics_offset;
    uint64_t         sh_metrics_bytes;
    uint64_t         sh_ledger_offset;
    uint64_t         sh_ledger_bytes;
    uint64_t         sh_usage_offset;
    uint64_t         sh_usage_bytes;
    _Atomic uint32_t sh_usage_failed;     /* the journal cannot be written */
    _Atomic uint32_t sh_ledger_loaded;    /* 1 once a syncer rebuilt the
                                             balances into this arena */
    uint64_t         sh_clients_offset;
    uint64_t         sh_clients_bytes;
    uint64_t         sh_responses_offset;
    uint64_t         sh_responses_bytes;
    /* Why the last syncer could not start or had to stop ("" while one
     * runs well): written by the syncer alone, read by /readyz through
     * fg_shm_syncer_failure(). An even sh_failure_seq means the text is
     * whole; odd, that a write is under way. */
    _Atomic uint32_t sh_failure_seq;
    _Atomic uint32_t sh_failure_set;      /* 1 while a failure stands */
    char             sh_failure[FG_SHM_FAILURE_MAX];
} fg_shm_header_t;

_Static_assert(sizeof(fg_shm_header_t)
               == 128 + 64 + 16 + 8 + FG_SHM_FAILURE_MAX,
               "header: three cache lines, the responses region and the "
               "failure reason");

typedef struct {
    fg_shm_header_t *header;
    fg_shm_worker_t *workers;
    fg_keytable_t   *keys;
    fg_limiter_t    *limiter;
    fg_metrics_t    *metrics;
    fg_ledger_t     *ledger;
    fg_usagering_t  *usage;
    fg_clientconns_t *clients;
    fg_health_t     *health;
    fg_respstore_t  *responses;
    size_t           bytes;
} fg_shm_t;

/*
 * Maps the arena, inherited across fork, with room for a key table of
 * @max_keys keys, @client_slots entries of connections per client
 * (fg_clientconns_slots()) and @health_slots endpoints' health
 * (routing.max_endpoints), and the response store's counters for
 * @max_keys keys: from the POSIX shared-memory object @name, or anonymous
 * memory when @name is NULL. An object of the same name, size and layout
 * left by a previous run is kept as it is and *@recovered set to 1: the
 * caller repairs what its dead processes held. An object of another
 * layout version (FG_SHM_LAYOUT_VERSION) is refused: FG_ERR, untouched,
 * since what it holds cannot be read here (docs/operations.md,
 * Upgrades). Otherwise (none, or another size of this layout) the header
 * and the empty regions are initialised and *@recovered is 0. Pages are zero
 * from the kernel and only touched when used, so a large table costs
 * address space, not memory, until keys fill it. Returns FG_OK or FG_ERR
 * with @err set. Master only, before forking.
 */
int fg_shm_create(fg_shm_t *shm, const char *name, uint32_t max_keys,
                  uint32_t usage_records, uint32_t client_slots,
                  uint32_t health_slots, int *recovered, fg_err_t *err);

/* Removes the object @name (after a clean stop). Accepts NULL. */
int fg_shm_unlink(const char *name);

/*
 * Checks the header of a mapped arena: magic, layout version, sizes.
 * Returns FG_OK, or FG_ERR with @err naming the first mismatch.
 */
int fg_shm_check(const fg_shm_t *shm, fg_err_t *err);

/* Unmaps the arena. Accepts an unmapped fg_shm_t. */
void fg_shm_destroy(fg_shm_t *shm);

/* Borrowed slot @i (0 <= i < FG_SHM_MAX_WORKERS). */
fg_shm_worker_t *fg_shm_worker(const fg_shm_t *shm, unsigned i);

/*
 * Publishes why the syncer failed (@reason, cut to FG_SHM_FAILURE_MAX - 1
 * bytes), or clears it (@reason NULL). The syncer only: one writer.
 */
void fg_shm_set_syncer_failure(const fg_shm_t *shm, const char *reason);

/*
 * Copies the syncer's standing failure into @out (FG_SHM_FAILURE_MAX
 * bytes) and returns 1, or returns 0 when none stands. A copy that keeps
 * racing the writer gives a generic reason rather than spin. Any
 * process; never blocks.
 */
int fg_shm_syncer_failure(const fg_shm_t *shm, char *out);

/* Number of READY slots of @generation. Any process; never blocks. */
unsigned fg_shm_workers_ready(const fg_shm_t *shm, uint32_t generation);

#endif
