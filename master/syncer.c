/*
 * syncer.c: the syncer process's life.
 *
 *   1) lock and load the store, repair the key table after a previous
 *      syncer that may have died in the middle of a write, and make the
 *      table equal to the store; then tell the workers the keys are
 *      loaded (sh_keys_loaded);
 *   2) serve the admin API on its own listener (a 0600 unix socket by
 *      default), never on the public one;
 *   3) every 10 ms, move the workers' usage records from their rings in
 *      shm to the usage journal, fdatasync'd in groups
 *      (usage.sync_interval_ms, usage.sync_records), freeing ring slots
 *      only after the sync; a failed write or sync stops billable
 *      admission (sh_usage_failed) and restarts the syncer;
 *   4) once a second, write the live balances (charged by the workers in
 *      the shm ledger) into the store, and compact the store when its
 *      journal has grown; and sweep the response store when a put asked
 *      for it or responses.store_sweep_s has passed.
 *
 * A commit that could not be made durable leaves the store failed for
 * good (a failed fsync cannot be retried honestly): the syncer then stops
 * with code 1 and the master starts a new one, which reloads from disk.
 */

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/base/alloc.h"
#include "common/base/clock.h"
#include "common/store/keystore.h"
#include "common/base/log.h"
#include "common/store/store.h"
#include "common/store/usagelog.h"
#include "common/wire/httpserver.h"
#include "master/admin_http.h"
#include "master/listen.h"
#include "common/store/reslog.h"
#include "common/store/respstore.h"
#include "master/syncer.h"

#define SYNCER_LOCK_WAIT_MS 10000

#define SYNCER_DRAIN_MS     10
#define SYNCER_DRAIN_BATCH  256
#define SYNCER_RETAIN_TICKS 3600    /* seconds between retention passes */
#define SYNCER_ROLL_RETRY_MS 60000  /* after a roll that changed nothing */
#define SYNCER_SWEEP_LOG_MS  60000  /* between two sweep failures logged */

/* The ring index of the usage records the syncer itself writes: those of
 * reservations settled after a cold start. No ring has it. */
#define SYNCER_RING         (FG_USAGELOG_RINGS_MAX - 1)

typedef struct {
    const fg_syncer_config_t *sc;
    fg_usagelog_t            *usage;
    struct event             *drain_ev;
    struct event             *wake_ev;       /* a worker's reservation */
    size_t                   *held;          /* per ring: written, unsynced */
    fg_usage_record_t        *batch;
    fg_usage_record_t        *bills;         /* the batch's usage records */
    fg_reslog_t              *reservations;
    fg_usagelog_scan_t        usage_scan;    /* the journal at open */
    char                      usage_path[FG_CONF_PATH_MAX + 32];
    struct event_base        *base;
    fg_httpserver_t          *http;          /* the admin API's, owned */
    fg_usage_queries_t       *queries;       /* GET /admin/v1/usage, owned */
    fg_store_t               *store;
    fg_keystore_t            *keys;
    fg_admin_http_t           admin;
    struct event             *tick_ev;
    struct event             *signal_evs[4];
    int                       exit_code;
    uint64_t                  ticks;         /* of tick_ev, one a second */
    int64_t                   roll_retry_ms; /* monotonic; no roll before */
    int64_t                   sweep_ticks;   /* since the last sweep */
    int64_t                   sweep_logged_ms;   /* monotonic: a failure */
    char                      unix_path[FG_CONF_PATH_MAX];
} syncer_t;

static void
syncer_signal_cb(evutil_socket_t sig, short what, void *arg)
{
    syncer_t *s = arg;

    (void) what;
    if (sig == SIGUSR1) {
        (void) fg_log_reopen();
        return;
    }
    event_base_loopexit(s->base, NULL);
}

/*
 * Says why this syncer cannot go on: in shm, where every worker's /readyz
 * reports it (503) and the master compares it with the last syncer's
 * (cycle.c stops respawning after a few identical failures), and in the
 * log, once: a respawned syncer failing for the same cause adds a short
 * line, not the whole story again.
 */
static void
syncer_failed(syncer_t *s, const char *what, const char *why)
{
    char   reason[FG_SHM_FAILURE_MAX], standing[FG_SHM_FAILURE_MAX];
    size_t i;

    snprintf(reason, sizeof(reason), "%s: %s", what, why);
    for (i = 0; reason[i] != '\0'; i++) {
        if ((unsigned char) reason[i] < 0x20
            || (unsigned char) reason[i] > 0x7e) {
            reason[i] = '?';
        }
    }
    if (fg_shm_syncer_failure(s->sc->shm, standing)
        && strcmp(standing, reason) == 0) {
        fg_log(FG_LOG_ERROR, 0, "syncer: failed again for the same cause "
               "(%s)", what);
    } else {
        fg_log(FG_LOG_ERROR, 0, "%s: %s", what, why);
    }
    fg_shm_set_syncer_failure(s->sc->shm, reason);
}

/*
 * The master's record of a request whose worker died (master/cycle.c)
 * has only what the ledger kept: ids, key and charge. Its API, model and
 * stream flag are its reservation's, as on the record a cold start
 * writes (syncer_replay).
 */
static void
syncer_fill_lost(const syncer_t *s, fg_usage_record_t *rec)
{
    const fg_usage_record_t *held;

    if (!(rec->flags & FG_USAGE_WORKER_LOST)) {
        return;
    }
    held = fg_reslog_held(s->reservations, rec->request_id);
    if (held == NULL) {
        return;
    }
    rec->api = held->api;
    memcpy(rec->model_requested, held->model_requested,
           sizeof(rec->model_requested));
    rec->flags |= held->flags & FG_USAGE_STREAM;
}

/*
 * One drained batch: reservation records to the reservation log; usage
 * records to the journal, each closing its reservation and taken into its
 * key's journal balance (the one the store gets: cold start). Returns
 * the number of reservation records (they want a sync at once: a worker
 * waits for it before its upstream call), or -1 on failure.
 */
static int
syncer_route(syncer_t *s, const fg_usage_record_t *batch, size_t n,
             fg_err_t *err)
{
    fg_usagelog_pos_t pos;
    size_t            i, bills = 0;
    int               reserved = 0;

    for (i = 0; i < n; i++) {
        if (batch[i].flags & FG_USAGE_RESERVATION) {
            fg_reslog_reserve(s->reservations, &batch[i]);
            reserved++;
            continue;
        }
        /* A re-delivery the journal has already is not charged twice. */
        if (batch[i].seq > fg_usagelog_ring_seq(s->usage, batch[i].ring)) {
            s->bills[bills] = batch[i];
            syncer_fill_lost(s, &s->bills[bills]);
            bills++;
        }
        (void) fg_reslog_settle(s->reservations, &batch[i]);
    }
    if (bills > 0) {
        if (fg_usagelog_append(s->usage, s->bills, bills, fg_mono_ms(),
                               NULL, err) != FG_OK) {
            return -1;
        }
        fg_usagelog_position(s->usage, &pos);
        for (i = 0; i < bills; i++) {
            fg_keystore_apply_usage(s->keys, &s->bills[i], pos.file_id,
                                    pos.offset);
        }
    }
    return fg_reslog_flush(s->reservations, err) == FG_OK ? reserved : -1;
}

/* Both logs durable. */
static int
syncer_sync_logs(syncer_t *s, fg_err_t *err)
{
    return fg_usagelog_sync(s->usage, err) == FG_OK
           && fg_reslog_sync(s->reservations, err) == FG_OK ? FG_OK
                                                            : FG_ERR;
}

static int syncer_drain(syncer_t *s, int force_sync);

/* The keystore's hook: what the balances it writes next include. The
 * rings are drained first, so a charge a reply has announced is in the
 * balance written with an admin change. */
static int
syncer_usage_sync(void *arg, uint64_t *file_id, uint64_t *offset,
                  fg_err_t *err)
{
    syncer_t         *s = arg;
    fg_usagelog_pos_t pos;

    /* Not before the replay is over (sh_keys_loaded): a record drained
     * then would be counted twice. */
    if (atomic_load(&s->sc->shm->header->sh_keys_loaded)
        && syncer_drain(s, 1) != FG_OK) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "the usage journal failed (logged)");
    }
    if (syncer_sync_logs(s, err) != FG_OK) {
        return FG_ERR;
    }
    fg_usagelog_position(s->usage, &pos);
    *file_id = pos.file_id;
    *offset = pos.offset;
    return FG_OK;
}

/*
 * Moves usage records from the rings to the journal: copy what waits past
 * what was written already, append it, and when the group commit is due,
 * fdatasync and only then free the rings' slots. A crash anywhere leaves
 * every record in a ring or durable in the journal (a record in both is
 * written once: the journal skips sequences it has). Reservation records
 * go to the reservation log and are synced at once. Returns FG_ERR when
 * a log failed for good.
 */
static int
syncer_drain(syncer_t *s, int force_sync)
{
    fg_usagering_t      *r = s->sc->shm->usage;
    fg_usagelog_policy_t policy;
    fg_err_t             err;
    size_t               n;
    int                  ring, reserved;
    int64_t              wait;

    for (ring = fg_usagering_next_active(r, 0); ring >= 0;
         ring = fg_usagering_next_active(r, (unsigned) ring + 1)) {
        for (;;) {
            if (fg_usagering_drain(r, (unsigned) ring, s->held[ring],
                                   s->batch, SYNCER_DRAIN_BATCH, &n)
                != FG_OK || n == 0) {
                break;
            }
            reserved = syncer_route(s, s->batch, n, &err);
            if (reserved < 0) {
                syncer_failed(s, "usage journal", err.msg);
                return FG_ERR;
            }
            force_sync |= reserved > 0;
            s->held[ring] += n;
        }
    }
    policy.max_pending = (uint64_t) s->sc->conf->usage_sync_records;
    policy.max_delay_ms = s->sc->conf->usage_sync_interval_ms;
    wait = fg_usagelog_sync_wait_ms(s->usage, &policy, fg_mono_ms());
    if (wait > 0 && !force_sync) {
        return FG_OK;
    }
    {
        int64_t started_us = fg_mono_us();

        /* Nothing to do for a log with nothing pending. */
        if (syncer_sync_logs(s, &err) != FG_OK) {
            syncer_failed(s, "usage journal", err.msg);
            return FG_ERR;
        }
        /* Only a sync that had lines to make durable is a sync. */
        if (wait >= 0) {
            fg_metrics_journal_synced(s->sc->shm->metrics,
                                      fg_mono_us() - started_us);
        }
    }
    /* Everything appended is durable (here, or by the keystore's sync):
     * the rings' slots may go. */
    for (ring = 0; ring < (int) fg_usagering_rings(r); ring++) {
        if (s->held[ring] > 0) {
            if (fg_usagering_commit(r, (unsigned) ring, s->held[ring])
                != FG_OK) {
                fg_log(FG_LOG_ERROR, 0, "usage ring %d: commit "
                       "failed", ring);
            }
            s->held[ring] = 0;
        }
    }
    return FG_OK;
}

/*
 * The oldest usage journal file retention must keep: the file holding
 * the first record after the position the persisted balances include,
 * which a cold start replays. Every balance is persisted at the
 * journal's end before a roll (syncer_roll), so no position names a
 * record in a rolled file: the current file is that file.
 */
static uint64_t
syncer_oldest_needed_file_id(const syncer_t *s)
{
    return fg_usagelog_file_id(s->usage);
}

/* Deletes the rolled journals usage.retention_* allows. */
static void
syncer_retain(syncer_t *s)
{
    const fg_conf_t        *conf = s->sc->conf;
    fg_usagelog_retention_t r;
    fg_err_t                err;
    unsigned                deleted = 0;

    r.max_age_s = conf->usage_retention_days * 86400;
    r.max_bytes = (uint64_t) conf->usage_retention_bytes;
    r.keep_from_id = syncer_oldest_needed_file_id(s);
    if (fg_usagelog_retain(s->usage, &r, fg_wall_ms() / 1000, &deleted,
                           &err) != FG_OK) {
        fg_log(FG_LOG_ERROR, 0, "usage journal retention: %s", err.msg);
    }
    if (deleted > 0) {
        fg_log(FG_LOG_NOTICE, 0, "usage journal retention: deleted %u "
               "rolled file(s)", deleted);
    }
}

/*
 * Rolls the usage journal once it reached usage.journal_max_bytes, with
 * nothing pending and every ring slot it holds committed, so that no
 * record is ever delivered again across a roll. FG_ERR when the journal
 * failed for good.
 */
static int
syncer_roll(syncer_t *s)
{
    fg_err_t err;
    uint64_t id = fg_usagelog_file_id(s->usage);

    if (fg_usagelog_bytes(s->usage)
        < (uint64_t) s->sc->conf->usage_journal_max_bytes
        || fg_usagelog_pending(s->usage) > 0
        || fg_mono_ms() < s->roll_retry_ms) {
        return FG_OK;
    }
    /* Every balance at the end of this file first: a cold start replays
     * the current file only, and retention may delete rolled ones. */
    if (fg_keystore_persist_all_balances(s->keys, fg_wall_ms(), &err) < 0) {
        fg_log(FG_LOG_ERROR, 0, "usage journal: no roll, the balances "
               "could not be persisted first: %s; retrying in %d s",
               err.msg, SYNCER_ROLL_RETRY_MS / 1000);
        s->roll_retry_ms = fg_mono_ms() + SYNCER_ROLL_RETRY_MS;
        return FG_OK;
    }
    if (fg_usagelog_pending(s->usage) > 0) {
        return FG_OK;   /* the persist drained more: roll at the next pass */
    }
    if (fg_usagelog_roll(s->usage, &err) != FG_OK) {
        if (fg_usagelog_has_failed(s->usage)) {
            syncer_failed(s, "usage journal", err.msg);
            return FG_ERR;
        }
        /* Nothing changed (the rename failed): the journal goes on in
         * the same file; try again in a minute, not at every drain. */
        fg_log(FG_LOG_ERROR, 0, "usage journal: roll failed: %s; retrying "
               "in %d s", err.msg, SYNCER_ROLL_RETRY_MS / 1000);
        s->roll_retry_ms = fg_mono_ms() + SYNCER_ROLL_RETRY_MS;
        return FG_OK;
    }
    fg_log(FG_LOG_INFO, 0, "usage journal rolled to %s.%06llu",
           s->usage_path, (unsigned long long) id);
    syncer_retain(s);
    return FG_OK;
}

static void
syncer_drain_cb(evutil_socket_t fd, short what, void *arg)
{
    syncer_t *s = arg;

    (void) fd;
    (void) what;
    if (syncer_drain(s, 0) != FG_OK || syncer_roll(s) != FG_OK) {
        /* After a failed write or fsync nothing may be trusted: billable
         * admission stops, and a new syncer reopens the journal. */
        atomic_store(&s->sc->shm->header->sh_usage_failed, 1);
        s->exit_code = 1;
        event_base_loopexit(s->base, NULL);
    }
}

/* A worker pushed a reservation: drain (and sync) now. */
static void
syncer_wake_cb(evutil_socket_t fd, short what, void *arg)
{
    uint64_t n;

    (void) !read(fd, &n, sizeof(n));
    syncer_drain_cb(fd, what, arg);
}

static int
syncer_open_usage(syncer_t *s, fg_err_t *err)
{
    const fg_conf_t    *conf = s->sc->conf;
    fg_usagelog_scan_t  scan;
    char                path[FG_CONF_PATH_MAX + 32], node[64];

    snprintf(path, sizeof(path), "%s/usage.journal", conf->data_dir);
    if (conf->usage_node[0] != '\0') {
        snprintf(node, sizeof(node), "%.63s", conf->usage_node);
    } else if (gethostname(node, sizeof(node)) != 0 || node[0] == '\0') {
        snprintf(node, sizeof(node), "node");
    }
    node[sizeof(node) - 1] = '\0';
    snprintf(s->usage_path, sizeof(s->usage_path), "%s", path);
    s->usage = fg_usagelog_open(path, node, &scan, err);
    if (s->usage == NULL) {
        return FG_ERR;
    }
    s->usage_scan = scan;
    snprintf(path, sizeof(path), "%s/reservations.journal", conf->data_dir);
    s->reservations = fg_reslog_open(path, node,
                                     (size_t) FG_LEDGER_SLOTS_PER_OWNER
                                     * (fg_ledger_owner_master(
                                            s->sc->shm->ledger) + 1),
                                     err);
    if (s->reservations == NULL) {
        return FG_ERR;
    }
    if (scan.has_torn_tail) {
        fg_log(FG_LOG_WARN, 0, "usage journal: a torn last record (%llu "
               "bytes at offset %llu, a crash during a write) was cut off",
               (unsigned long long) scan.dropped_bytes,
               (unsigned long long) scan.dropped_offset);
    }
    /* A fresh arena restarts sequences at 1; the journal would take new
     * records for ones it has. */
    fg_usagering_raise_seq(s->sc->shm->usage,
                           fg_usagelog_last_seq(s->usage) + 1);
    fg_usagering_raise_seq(s->sc->shm->usage,
                           fg_reslog_last_seq(s->reservations) + 1);
    s->held = fg_xcalloc(fg_usagering_rings(s->sc->shm->usage),
                         sizeof(size_t));
    s->batch = fg_xcalloc(SYNCER_DRAIN_BATCH, sizeof(fg_usage_record_t));
    s->bills = fg_xcalloc(SYNCER_DRAIN_BATCH, sizeof(fg_usage_record_t));
    atomic_store(&s->sc->shm->header->sh_usage_failed, 0);
    return FG_OK;
}

/* 1 when no drained record waits for its ring commit. */
static int
syncer_rings_committed(const syncer_t *s)
{
    unsigned i;

    for (i = 0; i < fg_usagering_rings(s->sc->shm->usage); i++) {
        if (s->held[i] > 0) {
            return 0;
        }
    }
    return fg_usagelog_pending(s->usage) == 0;
}

/*
 * Sweeps the response store when a put passed 7/8 of a cap or
 * responses.store_sweep_s has passed. A failure (a shard folder that
 * cannot be read) is logged once a minute at most: the next sweep tries
 * again, and puts go on meanwhile.
 */
static void
syncer_sweep_responses(syncer_t *s)
{
    fg_respstore_conf_t  c = fg_respstore_conf_from(s->sc->conf);
    fg_respstore_sweep_t sw;
    fg_err_t             err;
    int64_t              now;

    if (c.total_bytes_max == 0
        || (++s->sweep_ticks < s->sc->conf->responses_store_sweep_s
            && !fg_respstore_sweep_wanted(s->sc->shm->responses))) {
        return;
    }
    s->sweep_ticks = 0;
    if (fg_respstore_sweep(s->sc->shm->responses, &c, fg_wall_ms(), &sw,
                           &err) != FG_OK) {
        now = fg_mono_ms();
        if (s->sweep_logged_ms == 0
            || now - s->sweep_logged_ms >= SYNCER_SWEEP_LOG_MS) {
            s->sweep_logged_ms = now;
            fg_log(FG_LOG_ERROR, 0, "response store: sweep failed: %s",
                   err.msg);
        }
    }
    if (sw.expired + sw.evicted > 0) {
        fg_log(FG_LOG_INFO, 0, "response store: swept %llu files, "
               "deleted %llu expired and %llu evicted, %llu bytes freed",
               (unsigned long long) sw.scanned,
               (unsigned long long) sw.expired,
               (unsigned long long) sw.evicted,
               (unsigned long long) sw.freed_bytes);
    }
}

static void
syncer_tick_cb(evutil_socket_t fd, short what, void *arg)
{
    syncer_t *s = arg;
    fg_err_t  err;
    int       rc;

    (void) fd;
    (void) what;
    /* Age-based retention needs a clock, not only rolls: hourly. */
    if (++s->ticks % SYNCER_RETAIN_TICKS == 0) {
        syncer_retain(s);
    }
    if (s->admin.store_failed) {
        syncer_failed(s, "key store", "a commit could not be made durable; "
                      "restarting the syncer to reload it");
        s->exit_code = 1;
        event_base_loopexit(s->base, NULL);
        return;
    }
    if (fg_keystore_persist_balances(s->keys, fg_wall_ms(), &err)
        == FG_ERR) {
        fg_log(FG_LOG_ERROR, 0, "persisting balances failed: %s", err.msg);
    }
    if (syncer_rings_committed(s)) {
        /* Everything is durable and freed: the open set is the truth. */
        rc = fg_reslog_compact(s->reservations, &err);
        if (rc == FG_ERR) {
            fg_log(FG_LOG_ERROR, 0, "reservation log compaction failed: %s",
                   err.msg);
        }
    }
    rc = fg_keystore_compact(s->keys,
                             (uint64_t) s->sc->conf->store_compact_after,
                             fg_wall_ms(), &err);
    if (rc == FG_ERR) {
        fg_log(FG_LOG_ERROR, 0, "key store compaction failed: %s", err.msg);
    } else if (rc == 1) {
        fg_log(FG_LOG_INFO, 0, "key store compacted into a new snapshot");
    }
    syncer_sweep_responses(s);
}

/* Binds the admin listener: "unix:PATH" or "host:port". */
static int
syncer_listen(syncer_t *s, fg_err_t *err)
{
    const char         *where = s->sc->conf->admin_listen;
    struct sockaddr_un  sun;
    fg_err_t            bind_err;
    int                 fd;
    fg_listen_t         tcp;

    if (strcmp(where, "off") == 0) {
        return FG_OK;
    }
    if (strncmp(where, "unix:", 5) != 0) {
        if (fg_conf_parse_listen(where, &tcp, err) != FG_OK) {
            return FG_ERR;
        }
        fd = fg_listen_bind(&tcp, &bind_err);
        if (fd < 0) {
            return fg_err_set(err, FG_E_INTERNAL, NULL, "admin API: %s",
                              bind_err.msg);
        }
        if (fg_httpserver_listen(s->http, fd, err) != FG_OK) {
            close(fd);
            return FG_ERR;
        }
        return FG_OK;
    }
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", where + 5);
    snprintf(s->unix_path, sizeof(s->unix_path), "%s", where + 5);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "socket(AF_UNIX): %s",
                          strerror(errno));
    }
    /* A socket left by a killed syncer; we hold the store lock, so no
     * live syncer of this data_dir owns it. */
    (void) unlink(sun.sun_path);
    if (bind(fd, (struct sockaddr *) &sun, sizeof(sun)) != 0
        || chmod(sun.sun_path, 0600) != 0 || listen(fd, 64) != 0) {
        int e = errno;

        close(fd);
        s->unix_path[0] = '\0';
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "admin API: bind(%s) failed: %s", where,
                          strerror(e));
    }
    if (fg_httpserver_listen(s->http, fd, err) != FG_OK) {
        close(fd);
        return FG_ERR;
    }
    return FG_OK;
}

static int
syncer_replay_cb(const fg_usage_record_t *rec, const char *node,
                 uint64_t end_offset, void *arg, fg_err_t *err)
{
    syncer_t *s = arg;

    (void) node;
    (void) err;
    /* A usage record there is settled, whatever the reservation log
     * missed (its close was not durable yet). */
    (void) fg_reslog_settle(s->reservations, rec);
    fg_keystore_apply_usage(s->keys, rec, s->usage_scan.first_seq,
                            end_offset);
    return FG_OK;
}

/*
 * The balances the store has, plus the journal after their positions
 * (docs/architecture.md, "cold start"); then, on a cold start (a new
 * arena: every process and the memory of the last run are gone), every
 * reservation still open is settled as the master settles a dead
 * worker's: charged in full, with a worker_lost record.
 */
static int
syncer_replay(syncer_t *s, fg_err_t *err)
{
    fg_usagelog_pos_t pos;
    fg_usage_record_t rec;
    uint64_t          from, seq;
    size_t            settled = 0;
    int64_t           now = fg_wall_ms();

    from = fg_keystore_replay_from(s->keys, s->usage_scan.first_seq);
    if (from != UINT64_MAX
        && fg_usagelog_replay(s->usage_path, from, syncer_replay_cb, s, NULL,
                              err) != FG_OK) {
        return FG_ERR;
    }
    if (atomic_load(&s->sc->shm->header->sh_ledger_loaded)) {
        return FG_OK;   /* warm: the ledger and the workers hold them */
    }
    seq = fg_usagelog_last_seq(s->usage);
    if (fg_reslog_last_seq(s->reservations) > seq) {
        seq = fg_reslog_last_seq(s->reservations);
    }
    if (fg_usagelog_ring_seq(s->usage, SYNCER_RING) > seq) {
        seq = fg_usagelog_ring_seq(s->usage, SYNCER_RING);
    }
    while (fg_reslog_open_count(s->reservations) > 0) {
        const fg_usage_record_t *held = fg_reslog_open_at(s->reservations,
                                                          0);

        fg_usage_init(&rec);
        memcpy(rec.request_id, held->request_id, sizeof(rec.request_id));
        memcpy(rec.client_request_id, held->client_request_id,
               sizeof(rec.client_request_id));
        memcpy(rec.key_id, held->key_id, sizeof(rec.key_id));
        memcpy(rec.model_requested, held->model_requested,
               sizeof(rec.model_requested));
        (void) FG_USAGE_SET(rec.error_code, "worker_lost");
        rec.started_unix_ms = now;
        rec.charged_micro = held->charged_micro;   /* the amount held */
        rec.flags = FG_USAGE_ESTIMATED | FG_USAGE_WORKER_LOST
                    | (held->flags & FG_USAGE_STREAM);
        rec.api = held->api;
        rec.seq = ++seq;
        rec.ring = SYNCER_RING;
        fg_log(FG_LOG_WARN, 0, "req=%s: held %lld micro-units of key %s "
               "when the node stopped; charged in full", rec.request_id,
               (long long) rec.charged_micro, rec.key_id);
        (void) fg_reslog_settle(s->reservations, &rec);
        if (fg_usagelog_append(s->usage, &rec, 1, fg_mono_ms(), NULL, err)
            != FG_OK) {
            return FG_ERR;
        }
        fg_usagelog_position(s->usage, &pos);
        fg_keystore_apply_usage(s->keys, &rec, pos.file_id, pos.offset);
        settled++;
    }
    if (fg_reslog_flush(s->reservations, err) != FG_OK
        || syncer_sync_logs(s, err) != FG_OK) {
        return FG_ERR;
    }
    fg_usagering_raise_seq(s->sc->shm->usage, seq + 1);
    if (settled > 0) {
        fg_log(FG_LOG_WARN, 0, "cold start: %zu reservations held when the "
               "node stopped were settled", settled);
    }
    return FG_OK;
}

static int
syncer_load(syncer_t *s, fg_err_t *err)
{
    const fg_conf_t *conf = s->sc->conf;
    fg_store_info_t  info;

    s->store = fg_store_file_open(conf->data_dir, SYNCER_LOCK_WAIT_MS, err);
    if (s->store == NULL) {
        return FG_ERR;
    }
    /* Repairs what a syncer killed in the middle of a write left. */
    fg_keytable_recover(s->sc->shm->keys);
    s->keys = fg_keystore_new(s->sc->shm->keys, s->store,
                              s->sc->server_secret,
                              conf->keys_rotation_grace_s * 1000);
    fg_keystore_set_ledger(s->keys, s->sc->shm->ledger,
                           fg_ledger_owner_syncer(s->sc->shm->ledger));
    fg_keystore_set_default_balance(s->keys, conf->keys_default_balance);
    fg_keystore_set_usage(s->keys, syncer_usage_sync, s,
                          s->usage_scan.first_seq,
                          s->usage_scan.valid_bytes);
    if (fg_keystore_load(s->keys, fg_wall_ms(), err) != FG_OK
        || syncer_replay(s, err) != FG_OK
        || fg_keystore_rebuild_ledger(s->keys, err) != FG_OK) {
        return FG_ERR;
    }
    fg_store_info(s->store, &info);
    if (info.had_torn_tail) {
        fg_log(FG_LOG_WARN, 0, "key store: the journal's last record was "
               "torn (%llu bytes at offset %llu, a crash during a write); "
               "it was cut off. The admin call that wrote it had not been "
               "answered.", (unsigned long long) info.torn_bytes,
               (unsigned long long) info.torn_offset);
    }
    fg_log(FG_LOG_NOTICE, 0, "key store loaded from %s: %u keys, %llu "
           "changes replayed", conf->data_dir,
           fg_keytable_count(s->sc->shm->keys),
           (unsigned long long) info.changes_loaded);
    return FG_OK;
}

int
fg_syncer_run(const fg_syncer_config_t *sc)
{
    static const int signals[] = { SIGTERM, SIGINT, SIGQUIT, SIGUSR1 };
    syncer_t         s;
    fg_err_t         err;
    sigset_t         mask;
    struct timeval   second = { 1, 0 };
    struct timeval   drain_every = { 0, SYNCER_DRAIN_MS * 1000 };
    int              i, rc = 0;

    memset(&s, 0, sizeof(s));
    s.sc = sc;
    fg_log_set_role("syncer");
    s.base = event_base_new();
    if (s.base == NULL) {
        fg_log(FG_LOG_ERROR, 0, "syncer: libevent set-up failed");
        return 1;
    }
    for (i = 0; i < 4; i++) {
        s.signal_evs[i] = evsignal_new(s.base, signals[i], syncer_signal_cb,
                                       &s);
        evsignal_add(s.signal_evs[i], NULL);
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    sigemptyset(&mask);
    sigprocmask(SIG_SETMASK, &mask, NULL);

    if (syncer_open_usage(&s, &err) != FG_OK) {
        syncer_failed(&s, "usage journal", err.msg);
        atomic_store(&sc->shm->header->sh_usage_failed, 1);
        rc = 1;
        goto done;
    }
    if (syncer_load(&s, &err) != FG_OK) {
        syncer_failed(&s, "key store", err.msg);
        /* Locked by another process: worth a retry. Unreadable: not. */
        rc = s.store == NULL ? 1 : 2;
        goto done;
    }
    atomic_store(&sc->shm->header->sh_ledger_loaded, 1);
    atomic_store(&sc->shm->header->sh_keys_loaded, 1);
    fg_shm_set_syncer_failure(sc->shm, NULL);
    syncer_retain(&s);

    s.admin.keys = s.keys;
    s.admin.store = s.store;
    s.admin.shm = sc->shm;
    s.admin.token = sc->admin_token;
    s.admin.usage_path = s.usage_path;
    s.admin.health = fg_health_conf_from(sc->conf);
    s.queries = fg_usage_queries_new(s.base, s.usage_path,
                                     sc->conf->usage_query_timeout_ms);
    s.admin.queries = s.queries;
    s.http = fg_admin_http_new(s.base, &s.admin);
    if (syncer_listen(&s, &err) != FG_OK) {
        syncer_failed(&s, "admin API", err.msg);
        rc = 1;
        goto done;
    }
    s.tick_ev = event_new(s.base, -1, EV_PERSIST, syncer_tick_cb, &s);
    event_add(s.tick_ev, &second);
    s.drain_ev = event_new(s.base, -1, EV_PERSIST, syncer_drain_cb, &s);
    event_add(s.drain_ev, &drain_every);
    if (sc->wake_fd >= 0) {
        s.wake_ev = event_new(s.base, sc->wake_fd, EV_READ | EV_PERSIST,
                              syncer_wake_cb, &s);
        event_add(s.wake_ev, NULL);
    }
    fg_log(FG_LOG_NOTICE, 0, "syncer ready; admin API on %s",
           sc->conf->admin_listen);

    event_base_dispatch(s.base);
    rc = s.exit_code;
    if (rc == 0 && syncer_drain(&s, 1) != FG_OK) {
        atomic_store(&sc->shm->header->sh_usage_failed, 1);
        rc = 1;
    }
    if (rc == 0 && fg_keystore_persist_balances(s.keys, fg_wall_ms(),
                                                &err) == FG_ERR) {
        fg_log(FG_LOG_ERROR, 0, "persisting balances failed: %s", err.msg);
    }

done:
    if (s.unix_path[0] != '\0') {
        (void) unlink(s.unix_path);
    }
    if (s.tick_ev != NULL) {
        event_free(s.tick_ev);
    }
    if (s.drain_ev != NULL) {
        event_free(s.drain_ev);
    }
    if (s.wake_ev != NULL) {
        event_free(s.wake_ev);
    }
    fg_usagelog_close(s.usage);
    free(s.held);
    free(s.batch);
    free(s.bills);
    fg_reslog_close(s.reservations);
    for (i = 0; i < 4; i++) {
        if (s.signal_evs[i] != NULL) {
            event_free(s.signal_evs[i]);
        }
    }
    fg_httpserver_free(s.http);
    fg_usage_queries_free(s.queries);
    fg_keystore_free(s.keys);
    fg_store_close(s.store);
    event_base_free(s.base);
    return rc;
}
