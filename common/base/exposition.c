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
 *                  back a dead worker's before freeing its slot);
 *   usage backlog  records waiting in the usage rings (pushed, not yet
 *                  durable in the journal: the syncer frees a slot only
 *                  after the fdatasync), and the age of the oldest one,
 *                  by the wall clock from the end of its request;
 *   endpoints      every entry of the health table: its circuit as of
 *                  now, attempts by outcome, failovers, openings and the
 *                  averages, read once so that every family shows the
 *                  same moment;
 *   responses      the response store's counters (common/store/respstore.h):
 *                  what it holds, what puts and sweeps did.
 *
 * Only live slots are read, so a scrape never faults in the pages of
 * slots that never ran a worker.
 */

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/clock.h"
#include "common/base/exposition.h"

/* Reads of one ring's oldest record that the syncer may overtake. */
#define EXPOSITION_OLDEST_TRIES 4

_Static_assert(FG_METRICS_WORKERS == FG_SHM_MAX_WORKERS,
               "one metrics block per shm worker slot");

static void
exposition_gauge(FILE *out, const char *name, const char *type,
                 const char *help, uint64_t value)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help,
            name, type, name, value);
}

/*
 * The wall-clock ms at which the oldest record waiting in any ring
 * ended, or -1 when none waits. Only rings ever pushed to are read.
 */
static int64_t
exposition_oldest_pending_ms(const fg_usagering_t *r)
{
    fg_usage_record_t rec;
    int64_t           oldest = -1, end;
    int               ring, tries;

    for (ring = fg_usagering_next_active(r, 0); ring >= 0;
         ring = fg_usagering_next_active(r, (unsigned) ring + 1)) {
        for (tries = 0; tries < EXPOSITION_OLDEST_TRIES; tries++) {
            if (fg_usagering_oldest(r, (unsigned) ring, &rec)) {
                end = rec.started_unix_ms + rec.latency_us / 1000;
                if (oldest < 0 || end < oldest) {
                    oldest = end;
                }
                break;
            }
            if (fg_usagering_depth(r, (unsigned) ring) == 0) {
                break;
            }
        }
    }
    return oldest;
}

static void
exposition_backlog(FILE *out, const fg_usagering_t *r)
{
    int64_t oldest, age_ms = 0;

    if (r == NULL) {
        return;                 /* an arena made without rings (tests) */
    }
    oldest = exposition_oldest_pending_ms(r);

    exposition_gauge(out, "fluxgate_usage_records_pending", "gauge",
                     "Usage records waiting in the shared-memory rings: "
                     "not yet durable in the usage journal.",
                     fg_usagering_depth_total(r));
    if (oldest >= 0) {
        age_ms = fg_wall_ms() - oldest;
        if (age_ms < 0) {
            age_ms = 0;         /* the wall clock stepped back */
        }
    }
    fprintf(out, "# HELP fluxgate_usage_oldest_pending_age_seconds Age of "
            "the oldest usage record waiting in the rings, from the end of "
            "its request; 0 when none waits.\n"
            "# TYPE fluxgate_usage_oldest_pending_age_seconds gauge\n"
            "fluxgate_usage_oldest_pending_age_seconds %" PRId64 ".%03"
            PRId64 "\n", age_ms / 1000, age_ms % 1000);
}

static void
exposition_responses(FILE *out, const fg_respstore_t *rs)
{
    fg_respstore_stats_t st;

    if (rs == NULL) {
        return;                 /* an arena made without one (tests) */
    }
    fg_respstore_stats(rs, &st);
    exposition_gauge(out, "fluxgate_response_store_bytes", "gauge",
                     "Bytes of the stored /v1/responses conversations "
                     "(files' headers included), as counted.", st.bytes);
    exposition_gauge(out, "fluxgate_response_store_files", "gauge",
                     "Files of the response store: records and their "
                     "items' aliases.", st.files);
    exposition_gauge(out, "fluxgate_response_store_stored_total", "counter",
                     "Responses the store kept.", st.stored_total);
    exposition_gauge(out, "fluxgate_response_store_refused_total",
                     "counter", "Responses not kept because a key's or "
                     "the whole store's cap would have been passed.",
                     st.refused_total);
    exposition_gauge(out, "fluxgate_response_store_failed_total", "counter",
                     "Responses not kept because a write failed or the id "
                     "was stored already.", st.failed_total);
    exposition_gauge(out, "fluxgate_response_store_expired_total",
                     "counter", "Files the sweep deleted because their "
                     "time to live had passed.", st.expired_total);
    exposition_gauge(out, "fluxgate_response_store_evicted_total",
                     "counter", "Files the sweep deleted, oldest first, "
                     "to bring a key or the store under 3/4 of its cap.",
                     st.evicted_total);
    exposition_gauge(out, "fluxgate_response_store_sweeps_total", "counter",
                     "Sweeps of the response store by the syncer.",
                     st.sweeps_total);
}

static void
exposition_endpoint(FILE *out, const char *name,
                    const fg_health_view_t *v)
{
    fputs(name, out);
    fputc('{', out);
    fg_metrics_label(out, "provider", v->provider);
    fputc(',', out);
    fg_metrics_label(out, "model", v->model);
}

/* One family with a sample per endpoint, from @value (< 0: no sample). */
static void
exposition_endpoints(FILE *out, const char *name, const char *type,
                     const char *help, const fg_health_view_t *views,
                     size_t n, double (*value)(const fg_health_view_t *))
{
    size_t i;
    double x;

    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    for (i = 0; i < n; i++) {
        x = value(&views[i]);
        if (x >= 0) {
            exposition_endpoint(out, name, &views[i]);
            /* 15 digits: 0.1234, not 0.12340000000000001. */
            fprintf(out, "} %.15g\n", x);
        }
    }
}

static double
exposition_state(const fg_health_view_t *v)
{
    return v->state == FG_CIRCUIT_OPEN ? 1 : v->state == FG_CIRCUIT_HALF_OPEN
                                             ? 2 : 0;
}

static double
exposition_failovers(const fg_health_view_t *v)
{
    return (double) v->failovers;
}

static double
exposition_opened(const fg_health_view_t *v)
{
    return (double) v->opened;
}

static double
exposition_ttft(const fg_health_view_t *v)
{
    return v->ttft_ms > 0 ? v->ttft_ms / 1000 : -1;
}

static double
exposition_tps(const fg_health_view_t *v)
{
    return v->tps > 0 ? v->tps : -1;
}

static int
exposition_health(FILE *out, const fg_health_t *h,
                  const fg_health_conf_t *conf, fg_err_t *err)
{
    fg_health_view_t *views;
    int64_t           now = fg_mono_ms();
    size_t            n = h != NULL ? fg_health_count(h) : 0, i, k;
    unsigned          o;

    views = calloc(n + 1, sizeof(*views));
    if (views == NULL) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "out of memory");
    }
    for (i = 0, k = 0; i < n; i++) {
        k += fg_health_read(h, (int) i, conf, now, &views[k]) == FG_OK;
    }
    exposition_endpoints(out, "fluxgate_endpoint_state", "gauge",
                         "Circuit of each endpoint (provider, provider's "
                         "model id): 0 closed, 1 open, 2 half-open.",
                         views, k, exposition_state);
    fputs("# HELP fluxgate_endpoint_attempts_total Attempts sent to each "
          "endpoint, by how they ended.\n"
          "# TYPE fluxgate_endpoint_attempts_total counter\n", out);
    for (i = 0; i < k; i++) {
        for (o = FG_ATTEMPT_NONE + 1; o < FG_ATTEMPT_OUTCOME_COUNT; o++) {
            exposition_endpoint(out, "fluxgate_endpoint_attempts_total",
                                &views[i]);
            fputc(',', out);
            fg_metrics_label(out, "outcome", fg_attempt_outcome_name(o));
            fprintf(out, "} %" PRIu64 "\n", views[i].attempts[o]);
        }
    }
    exposition_endpoints(out, "fluxgate_endpoint_failovers_total",
                         "counter", "Attempts at each endpoint that failed "
                         "and moved the request to another.", views, k,
                         exposition_failovers);
    exposition_endpoints(out, "fluxgate_endpoint_circuit_opened_total",
                         "counter", "Times each endpoint's circuit opened.",
                         views, k, exposition_opened);
    exposition_endpoints(out, "fluxgate_endpoint_ttft_seconds", "gauge",
                         "Moving average of each endpoint's time to first "
                         "token; absent until measured.", views, k,
                         exposition_ttft);
    exposition_endpoints(out, "fluxgate_endpoint_tokens_per_second",
                         "gauge", "Moving average of each endpoint's "
                         "output tokens per second; absent until "
                         "measured.", views, k, exposition_tps);
    free(views);
    return FG_OK;
}

char *
fg_exposition_render(const fg_shm_t *shm, const fg_health_conf_t *health,
                     size_t *len, fg_err_t *err)
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
    exposition_backlog(out, shm->usage);
    exposition_responses(out, shm->responses);
    if (rc == FG_OK) {
        rc = exposition_health(out, shm->health, health, err);
    }

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
