#ifndef FG_COMMON_LIMITER_H
#define FG_COMMON_LIMITER_H

/*
 * Rate limits that hold exactly across all workers: requests per minute
 * and tokens per minute by GCRA (one theoretical-arrival-time word per
 * limit, updated with a CAS loop), and concurrent requests by a counter
 * whose every increment is recorded in the taking worker's own slot table,
 * so the master gives back what a dead worker held. All state lives in a
 * region of the shm arena; limiter.c's file comment has the arguments.
 *
 * A "subject" is what a limit applies to: a key (its 64-bit id), a model
 * or a provider (a hash of its name, high bit set). Subjects are entered
 * on first use and never removed; the table has room for twice the key
 * capacity plus the catalog.
 */

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/base/errors.h"
#include "common/base/summary.h"

#define FG_LIMITER_SLOTS_PER_WORKER 4096
#define FG_LIMITER_WINDOW_NS        60000000000LL   /* one minute */

typedef struct fg_limiter_s fg_limiter_t;

/* The limits of one subject; 0 = unlimited. */
typedef struct {
    int64_t requests_per_min;
    int64_t tokens_per_min;
    int64_t max_concurrent;
} fg_limits_t;

/* What one admission took, and what the response headers say. */
typedef struct {
    fg_limit_kind_t refused;          /* FG_LIMIT_NONE: admitted */
    int64_t         retry_after_s;    /* when refused: whole seconds */
    int64_t         retry_after_ms;   /* when refused: the exact wait, ms
                                       * rounded up (<= retry_after_s
                                       * * 1000) */
    int64_t         requests_limit;   /* 0: no such limit */
    int64_t         requests_remaining;
    int64_t         requests_reset_ms;
    int64_t         tokens_limit;
    int64_t         tokens_remaining;
    int64_t         tokens_reset_ms;
    /* Private to the limiter: what settle must give back or correct. */
    uint32_t        state_index;
    int32_t         slot;             /* concurrency slot held; -1 none */
    int64_t         tokens_charged;
    int64_t         requests_step_ns;
    int64_t         tokens_step_ns;
    fg_limits_t     limits;
} fg_admission_t;

/* Bytes of the region for @max_subjects subjects and @workers worker
 * slots; 0 when out of range. */
size_t fg_limiter_bytes(uint32_t max_subjects, unsigned workers);

/* Lays out an empty limiter in the zeroed, 64-byte aligned @mem. Master,
 * before forking. NULL with @err set on a bad size. */
fg_limiter_t *fg_limiter_init(void *mem, size_t bytes, uint32_t max_subjects,
                              unsigned workers, fg_err_t *err);

/* The subject of key id "key_<16 hex>": its 64 bits, so "key_%016llx"
 * of it is the id again; of anything else, a hash of it with the high
 * bit set. Never 0. */
uint64_t fg_limiter_subject(const char *name);

/*
 * Admits one request of @subject under @limits at monotonic @now_ns,
 * costing @tokens against tokens_per_min, for the worker in shm slot
 * @worker: concurrency first, then requests, then tokens; a refusal by a
 * later limit gives back what the earlier ones took, so a refused request
 * costs nothing. Fills @out (also on refusal, for the headers). Returns
 * FG_OK when admitted, FG_ERR when refused (out->refused says by what;
 * a full subject table or slot table refuses as FG_LIMIT_CONCURRENCY).
 * Never blocks, no syscalls.
 */
int fg_limiter_admit(fg_limiter_t *l, unsigned worker, uint64_t subject,
                     const fg_limits_t *limits, int64_t tokens,
                     int64_t now_ns, fg_admission_t *out);

/*
 * Ends an admitted request: corrects tokens_per_min from the charged
 * estimate to @actual_tokens (< 0: keep the estimate) and gives back the
 * concurrency slot. Call exactly once per admitted request.
 */
void fg_limiter_settle(fg_limiter_t *l, unsigned worker, fg_admission_t *a,
                       int64_t actual_tokens);

/*
 * Fills the report fields of @out (remaining and reset of each limit) for
 * @subject as it stands at @now_ns, taking nothing: the headers of a
 * request whose admission was cancelled.
 */
void fg_limiter_peek(fg_limiter_t *l, uint64_t subject,
                     const fg_limits_t *limits, int64_t now_ns,
                     fg_admission_t *out);

/*
 * Undoes an admitted request that did not go ahead (a later limit refused
 * it): its requests and tokens are refunded and its slot given back, so
 * it cost nothing. Instead of fg_limiter_settle(), never after it.
 */
void fg_limiter_cancel(fg_limiter_t *l, unsigned worker, fg_admission_t *a);

/*
 * Gives back every concurrency slot the worker in shm slot @worker held
 * (it died). Master, after waitpid() and before the slot is reused.
 * Returns how many slots were freed.
 */
unsigned fg_limiter_release_worker(fg_limiter_t *l, unsigned worker);

/* Concurrency slots the worker in shm slot @worker holds now. */
unsigned fg_limiter_held(const fg_limiter_t *l, unsigned worker);

#endif
