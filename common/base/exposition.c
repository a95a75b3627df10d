/*
 * exposition.c: the /metrics body. The counters come from the metrics
 * region (metrics.c); the gauges here are read at scrape time from what
 * the arena already holds, so they cost the request path nothing:
 *
 *   in flight      the sum of ws_in_flight over live slots (a dead
 *                  worker's slot is FREE and its stale gauge ignored);
 *   workers up     READY slots of the current generation, as /readyz;
 *   restarts       sh_worker_restarts, counted by the master;
 *   key table      capacity and keys held (keytable stats);
 *   concurrency    limiter slots held by live workers (the master gives
 *                  back a dead worker's before freeing its slot).
 *
 * Only live slots are read, so a scrape never faults in the pages of
 * slots that never ran a worker.
 */

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/base/exposition.h"

_Static_assert(FG_METRICS_WORKERS == FG_SHM_MAX_WORKERS,
               "one metrics block per shm worker slot");

static void
exposition_gauge(FILE *out, const char *name, const char *type,
                 const char *help, uint64_t value)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help,
            name, type, name, value);
}

char *
fg_exposition_render(const fg_shm_t *shm, size_t *len, fg_err_t *err)
{
    const fg_shm_worker_t *ws;
    fg_keytable_stats_t    kt;
    FILE                  *out;
    char                  *buf = NULL;
    size_t                 size = 0;
    uint64_t               in_flight = 0, held = 0;
    unsigned               i;
    int                    rc;

    out = open_memstream(&buf, &size);
    if (out == NULL) {
        fg_err_set(err, FG_E_INTERNAL, NULL, "open_memstream() failed");
        return NULL;
    }
    rc = fg_metrics_render(shm->metrics, out, err);

    for (i = 0; i < FG_SHM_MAX_WORKERS; i++) {
        ws = fg_shm_worker(shm, i);
        if (atomic_load_explicit(&ws->ws_state, memory_order_acquire)
            == FG_WORKER_FREE) {
            continue;
        }
        in_flight += atomic_load_explicit(&ws->ws_in_flight,
                                          memory_order_relaxed);
        held += fg_limiter_held(shm->limiter, i);
    }
    fg_keytable_stats(shm->keys, &kt);

    exposition_gauge(out, "fluxgate_requests_in_flight", "gauge",
                     "Requests being served now, over all workers.",
                     in_flight);
    exposition_gauge(out, "fluxgate_workers_up", "gauge",
                     "Workers of the current configuration accepting "
                     "requests.",
                     fg_shm_workers_ready(shm, atomic_load(
                         &shm->header->sh_generation)));
    exposition_gauge(out, "fluxgate_worker_restarts_total", "counter",
                     "Workers the master started again after one died.",
                     atomic_load(&shm->header->sh_worker_restarts));
    exposition_gauge(out, "fluxgate_key_table_capacity", "gauge",
                     "Keys the shared-memory key table can hold "
                     "(keys.max_keys).", kt.max_keys);
    exposition_gauge(out, "fluxgate_key_table_used", "gauge",
                     "Keys the shared-memory key table holds.", kt.count);
    exposition_gauge(out, "fluxgate_concurrency_slots_held", "gauge",
                     "Concurrent-request limiter slots held by requests in "
                     "flight.", held);

    if (fclose(out) != 0 && rc == FG_OK) {
        rc = fg_err_set(err, FG_E_INTERNAL, NULL, "writing the metrics "
                        "failed");
    }
    if (rc != FG_OK) {
        free(buf);
        return NULL;
    }
    *len = size;
    return buf;
}
