/*
 * cycle.c: the master's cycle, nginx's at a third of the size.
 *
 * The master blocks its signals and sleeps in sigsuspend(); handlers only
 * set flags, which the loop acts on in a fixed order:
 *
 *   reap       waitpid() every dead child; log its code or signal; free its
 *              shm slot; schedule a respawn if it belonged to the current
 *              generation and we are not stopping (exit code 2 means
 *              "fatal, do not respawn"; code 0, a worker someone else
 *              stopped, is replaced at once). A worker that keeps dying soon
 *              after start is respawned with a doubling delay (100 ms up to
 *              5 s); one that lived 10 s resets the delay.
 *   terminate  (SIGTERM, SIGINT) send SIGTERM to every child, close the
 *              master's listening sockets, wait up to
 *              shutdown_timeout (+2 s), then SIGKILL what is left; exit 0.
 *   quit       (SIGQUIT) the same, but workers finish gracefully.
 *   reload     (SIGHUP) load the configuration and catalogs anew; on any
 *              error log it and keep running as before. Otherwise reuse
 *              or bind the listeners, start a new generation of workers,
 *              then SIGQUIT the old ones, which finish what they hold.
 *   reopen     (SIGUSR1) reopen the log, and pass the signal on.
 *
 * Timers (respawn delays, the kill deadline) are one setitimer(SIGALRM).
 * The master serves no request and has no event loop.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/prctl.h>

#include "common/store/accesslog.h"
#include "common/base/alloc.h"
#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/base/process.h"
#include "common/wire/cidr.h"
#include "master/cycle.h"
#include "master/fdlimit.h"
#include "master/syncer.h"

#define CYCLE_BACKOFF_MIN_MS   100
#define CYCLE_BACKOFF_MAX_MS   5000
#define CYCLE_STABLE_MS        10000
#define CYCLE_KILL_GRACE_MS    2000
/* A syncer that fails this many times in a row, each within
 * CYCLE_STABLE_MS of its start and for the same reason, is not started
 * again: the cause is in the data or the host, and a restart loop would
 * only hide it (docs/operations.md, "A syncer that keeps failing"). */
#define CYCLE_SYNCER_SAME_FAILURES 5

typedef struct {
    pid_t       pid;            /* 0: slot free */
    uint32_t    generation;
    int64_t     started_ms;
    int64_t     respawn_at_ms;  /* > 0: respawn this slot then */
    int64_t     backoff_ms;     /* delay before the next quick respawn */
    int         is_old;         /* told to quit by a reload */
} cycle_child_t;

static volatile sig_atomic_t cycle_sig_reap;
static volatile sig_atomic_t cycle_sig_terminate;
static volatile sig_atomic_t cycle_sig_quit;
static volatile sig_atomic_t cycle_sig_reload;
static volatile sig_atomic_t cycle_sig_reopen;
static volatile sig_atomic_t cycle_sig_alarm;

static cycle_child_t cycle_children[FG_SHM_MAX_WORKERS];
static cycle_child_t cycle_syncer;
static char          cycle_syncer_failure[FG_SHM_FAILURE_MAX];
static unsigned      cycle_syncer_same_failures;
static uint32_t      cycle_generation = 1;

static void cycle_signal_handler(int sig);
static int cycle_spawn(fg_master_t *m, unsigned slot);
static void cycle_reap(fg_master_t *m, int is_stopping);
static int cycle_reload(fg_master_t *m);
static void cycle_metrics_setup(fg_master_t *m);
static void cycle_signal_children(int sig, int only_old, int with_syncer);
static int cycle_children_alive(void);
static void cycle_arm_timer(int64_t now, int64_t stop_deadline);

static void
cycle_signal_handler(int sig)
{
    switch (sig) {
    case SIGCHLD: cycle_sig_reap = 1; break;
    case SIGTERM:
    case SIGINT:  cycle_sig_terminate = 1; break;
    case SIGQUIT: cycle_sig_quit = 1; break;
    case SIGHUP:  cycle_sig_reload = 1; break;
    case SIGUSR1: cycle_sig_reopen = 1; break;
    case SIGALRM: cycle_sig_alarm = 1; break;
    }
}

/* metrics.listen is "off" or an address of its own: never a public
 * listener's, so /metrics cannot end up on the public port. Caught here
 * so that -t and a reload see it, not only a failing bind(). */
static int
cycle_check_metrics_listen(const fg_conf_t *conf, fg_err_t *err)
{
    fg_listen_t addr;
    fg_err_t    e;
    int         i;

    if (strcmp(conf->metrics_listen, "off") == 0) {
        return FG_OK;
    }
    if (fg_conf_parse_listen(conf->metrics_listen, &addr, &e) != FG_OK) {
        return fg_err_set(err, FG_E_INVALID_VALUE, "metrics.listen",
                          "%s: \"metrics.listen\": %s", conf->path, e.msg);
    }
    for (i = 0; i < conf->listen_count; i++) {
        if (conf->listen[i].port == addr.port
            && strcmp(conf->listen[i].host, addr.host) == 0) {
            return fg_err_set(err, FG_E_INVALID_VALUE, "metrics.listen",
                              "%s: \"metrics.listen\": %s:%d is a public "
                              "listener; metrics need their own address",
                              conf->path, addr.host, addr.port);
        }
    }
    return FG_OK;
}

int
fg_master_load(const fg_master_t *m, fg_conf_t **conf_out,
               fg_catalog_t **catalog_out, fg_err_t *err)
{
    fg_conf_t    *conf = calloc(1, sizeof(*conf));
    fg_catalog_t *catalog;
    fg_err_t      aerr;
    fg_cidr_set_t trusted;
    char          providers[FG_CONF_PATH_MAX + 16];
    char          impact[FG_CONF_PATH_MAX + 16];
    char          tokenizers[FG_CONF_PATH_MAX + 16];
    char          models[FG_CONF_PATH_MAX + 16];

    if (conf == NULL) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "out of memory");
    }
    if (fg_conf_load(conf, m->conf_path, err) != FG_OK) {
        free(conf);
        return FG_ERR;
    }
    /* Workers open it; a path they cannot open is caught here, by -t and
     * by a reload, rather than by every worker failing to start. */
    if (fg_accesslog_check(conf->access_log_file, &aerr) != FG_OK) {
        fg_err_set(err, FG_E_INVALID_VALUE, "access_log.file",
                   "%s: \"access_log.file\": %s", conf->path, aerr.msg);
        free(conf);
        return FG_ERR;
    }
    if (m->listen_override != NULL) {
        conf->listen_count = 1;
        if (fg_conf_parse_listen(m->listen_override, &conf->listen[0], err)
            != FG_OK) {
            free(conf);
            return FG_ERR;
        }
    }
    if (fg_cidr_parse(&trusted, conf->trusted_proxies, &aerr) != FG_OK) {
        fg_err_set(err, FG_E_INVALID_VALUE, "limits.trusted_proxies",
                   "%s: \"limits.trusted_proxies\": %s", conf->path,
                   aerr.msg);
        free(conf);
        return FG_ERR;
    }
    if (cycle_check_metrics_listen(conf, err) != FG_OK) {
        free(conf);
        return FG_ERR;
    }
    fg_conf_resolve(conf, conf->providers_file, providers, sizeof(providers));
    fg_conf_resolve(conf, conf->models_file, models, sizeof(models));
    catalog = fg_catalog_load(providers, models, err);
    if (catalog == NULL) {
        free(conf);
        return FG_ERR;
    }
    if (conf->impact_dir[0] != '\0') {
        fg_conf_resolve(conf, conf->impact_dir, impact, sizeof(impact));
    } else {
        /* Beside the model catalog, whose models it must cover. */
        const char *slash = strrchr(models, '/');

        snprintf(impact, sizeof(impact), "%.*s/impact",
                 slash != NULL ? (int) (slash - models) : 1,
                 slash != NULL ? models : ".");
    }
    if (fg_catalog_attach_impact(catalog, impact,
                                 conf->impact_prefill ? FG_IMPACT_PREFILL : 0,
                                 err) != FG_OK) {
        fg_catalog_free(catalog);
        free(conf);
        return FG_ERR;
    }
    if (conf->tokenizers_dir[0] != '\0') {
        fg_conf_resolve(conf, conf->tokenizers_dir, tokenizers,
                        sizeof(tokenizers));
    } else {
        snprintf(tokenizers, sizeof(tokenizers), "%s/tokenizers",
                 FG_SYSCONFDIR);
    }
    if (fg_catalog_attach_tokenizers(catalog, tokenizers, err) != FG_OK) {
        fg_catalog_free(catalog);
        free(conf);
        return FG_ERR;
    }
    *conf_out = conf;
    *catalog_out = catalog;
    return FG_OK;
}

/* In a freshly forked child: default signals, and die with the master,
 * so that a master killed with SIGKILL leaves no orphan serving on its
 * sockets or writing its store. */
static void
cycle_child_init(void)
{
    pid_t master = getppid();

    signal(SIGCHLD, SIG_DFL);
    signal(SIGALRM, SIG_DFL);
    (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != master) {
        _exit(0);   /* the master died before prctl() took effect */
    }
}

static int
cycle_spawn_syncer(fg_master_t *m)
{
    fg_syncer_config_t sc;
    pid_t              pid;

    atomic_store(&m->shm.header->sh_syncer_state, FG_WORKER_STARTING);
    pid = fork();
    if (pid < 0) {
        fg_log(FG_LOG_ERROR, errno, "fork() failed for the syncer");
        return FG_ERR;
    }
    if (pid == 0) {
        cycle_child_init();
        /* Our copies of the public sockets would keep an old address
         * accepting after a reload moved it; the syncer serves none. */
        fg_listeners_close(&m->listeners);
        sc.conf = m->conf;
        sc.shm = &m->shm;
        sc.server_secret = m->server_secret;
        sc.admin_token = m->admin_token;
        sc.wake_fd = m->syncer_wake_fd;
        _exit(fg_syncer_run(&sc));
    }
    atomic_store(&m->shm.header->sh_syncer_pid, pid);
    cycle_syncer.pid = pid;
    cycle_syncer.started_ms = fg_mono_ms();
    cycle_syncer.respawn_at_ms = 0;
    fg_log(FG_LOG_NOTICE, 0, "started the syncer, pid %d", (int) pid);
    return FG_OK;
}

/* A reservation of a dead process, settled by the master. */
static void
cycle_lost_cb(const fg_ledger_lost_t *lost, void *arg)
{
    fg_master_t      *m = arg;
    fg_usage_record_t rec;
    char              key_id[FG_KEY_ID_SIZE];
    uint64_t          seq;

    fg_log(FG_LOG_WARN, 0, "req=%s: its worker died; charged the %lld "
           "micro-units it had reserved", lost->request_id,
           (long long) lost->charged_micro);
    /* Its record: the worker could not write one. The syncer adds its
     * API, model and stream flag from the reservation log. */
    fg_usage_init(&rec);
    snprintf(key_id, sizeof(key_id), "key_%016llx",
             (unsigned long long) lost->subject);
    (void) FG_USAGE_SET(rec.request_id, lost->request_id);
    (void) FG_USAGE_SET(rec.client_request_id, lost->client_request_id);
    (void) FG_USAGE_SET(rec.key_id, key_id);
    (void) FG_USAGE_SET(rec.error_code, "worker_lost");
    rec.started_unix_ms = fg_wall_ms();
    rec.charged_micro = lost->charged_micro;
    rec.flags = FG_USAGE_ESTIMATED | FG_USAGE_WORKER_LOST;
    fg_ledger_add_request(m->shm.ledger, lost->subject, 0, 0, 0);
    if (fg_usagering_push(m->shm.usage, fg_usagering_master(m->shm.usage),
                          &rec, &seq) != FG_OK) {
        fg_log(FG_LOG_ERROR, 0, "req=%s: the master's usage ring is full; "
               "its record is only in this log line", lost->request_id);
    }
}

void
fg_master_recover(fg_master_t *m)
{
    fg_ledger_t *l = m->shm.ledger;
    unsigned     i, settled = 0, slots = 0;
    uint64_t     conns = 0;

    for (i = 0; i < FG_SHM_MAX_WORKERS; i++) {
        settled += fg_ledger_repair(l, i, fg_wall_ms(), cycle_lost_cb,
                                    m);
        slots += fg_limiter_release_worker(m->shm.limiter, i);
        conns += fg_clientconns_release_worker(m->shm.clients, i);
        atomic_store(&fg_shm_worker(&m->shm, i)->ws_state, FG_WORKER_FREE);
        atomic_store(&fg_shm_worker(&m->shm, i)->ws_pid, 0);
    }
    settled += fg_ledger_repair(l, fg_ledger_owner_syncer(l),
                                fg_wall_ms(), cycle_lost_cb, m);
    settled += fg_ledger_repair(l, fg_ledger_owner_master(l),
                                fg_wall_ms(), cycle_lost_cb, m);
    atomic_store(&m->shm.header->sh_keys_loaded, 0);
    atomic_store(&m->shm.header->sh_syncer_pid, 0);
    fg_shm_set_syncer_failure(&m->shm, NULL);
    fg_log(FG_LOG_WARN, 0, "found the arena of a run that did not stop "
           "cleanly: %u energy reservations settled, %u concurrency slots "
           "and %llu client connections given back", settled, slots,
           (unsigned long long) conns);
}

/*
 * Counts quick syncer failures with the same reason (the one it left in
 * shm); returns 1, having logged why, when the syncer must not be started
 * again. A syncer that ran CYCLE_STABLE_MS, or failed for another reason,
 * starts the count anew.
 */
static int
cycle_syncer_gives_up(fg_master_t *m, int64_t now)
{
    char reason[FG_SHM_FAILURE_MAX];

    if (!fg_shm_syncer_failure(&m->shm, reason)
        || now - cycle_syncer.started_ms >= CYCLE_STABLE_MS) {
        cycle_syncer_same_failures = 0;
        cycle_syncer_failure[0] = '\0';
        return 0;
    }
    if (cycle_syncer_same_failures > 0
        && strcmp(reason, cycle_syncer_failure) == 0) {
        cycle_syncer_same_failures++;
    } else {
        cycle_syncer_same_failures = 1;
        memcpy(cycle_syncer_failure, reason, sizeof(reason));
    }
    if (cycle_syncer_same_failures < CYCLE_SYNCER_SAME_FAILURES) {
        return 0;
    }
    fg_log(FG_LOG_ERROR, 0, "the syncer failed %u times in a row for the "
           "same reason (%s); not restarting it. Keyed requests get 503 "
           "and /readyz says why until an operator acts "
           "(docs/operations.md, \"A syncer that keeps failing\") and "
           "fluxgate is restarted or sent SIGHUP",
           cycle_syncer_same_failures, reason);
    return 1;
}

/* The syncer died: respawn it like a worker, with the same backoff. */
static void
cycle_reap_syncer(fg_master_t *m, int status, int is_stopping, int64_t now)
{
    cycle_child_t *c = &cycle_syncer;

    (void) fg_ledger_repair(m->shm.ledger,
                            fg_ledger_owner_syncer(m->shm.ledger),
                            fg_wall_ms(), cycle_lost_cb, m);

    if (WIFSIGNALED(status)) {
        fg_log(FG_LOG_NOTICE, 0, "the syncer (pid %d) was killed by signal "
               "%d", (int) c->pid, WTERMSIG(status));
    } else {
        fg_log(FG_LOG_NOTICE, 0, "the syncer (pid %d) exited with code %d",
               (int) c->pid, WEXITSTATUS(status));
    }
    c->pid = 0;
    if (is_stopping) {
        return;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
        fg_log(FG_LOG_ERROR, 0, "the key store cannot be loaded; not "
               "restarting the syncer. Keyed requests get 503 until it is "
               "repaired and fluxgate restarted (or sent SIGHUP)");
        return;
    }
    if (cycle_syncer_gives_up(m, now)) {
        return;
    }
    if (now - c->started_ms >= CYCLE_STABLE_MS || c->backoff_ms == 0) {
        c->backoff_ms = CYCLE_BACKOFF_MIN_MS;
        c->respawn_at_ms = now;
    } else {
        c->respawn_at_ms = now + c->backoff_ms;
        c->backoff_ms *= 2;
        if (c->backoff_ms > CYCLE_BACKOFF_MAX_MS) {
            c->backoff_ms = CYCLE_BACKOFF_MAX_MS;
        }
    }
}

static int
cycle_spawn(fg_master_t *m, unsigned slot)
{
    cycle_child_t      *c = &cycle_children[slot];
    fg_shm_worker_t    *ws = fg_shm_worker(&m->shm, slot);
    fg_worker_config_t  wc;
    pid_t               pid;

    atomic_store(&ws->ws_state, FG_WORKER_STARTING);
    atomic_store(&ws->ws_generation, cycle_generation);
    atomic_store(&ws->ws_requests_total, 0);
    atomic_store(&ws->ws_in_flight, 0);
    atomic_store(&ws->ws_connections, 0);
    pid = fork();
    if (pid < 0) {
        fg_log(FG_LOG_ERROR, errno, "fork() failed for worker#%u", slot);
        atomic_store(&ws->ws_state, FG_WORKER_FREE);
        return FG_ERR;
    }
    if (pid == 0) {
        cycle_child_init();
        wc.conf = m->conf;
        wc.catalog = m->catalog;
        wc.listen_fds = m->listeners.fd;
        wc.listen_count = m->listeners.count;
        wc.metrics_fd = m->listeners.metrics_fd;
        wc.shm = &m->shm;
        wc.slot = slot;
        wc.generation = cycle_generation;
        wc.server_secret = m->server_secret;
        wc.syncer_wake_fd = m->syncer_wake_fd;
        _exit(fg_worker_run(&wc));
    }
    atomic_store(&ws->ws_pid, pid);
    atomic_store(&ws->ws_started_ms, fg_mono_ms());
    c->pid = pid;
    c->generation = cycle_generation;
    c->started_ms = fg_mono_ms();
    c->respawn_at_ms = 0;
    c->is_old = 0;
    fg_log(FG_LOG_NOTICE, 0, "started worker#%u, pid %d, generation %u",
           slot, (int) pid, cycle_generation);
    return FG_OK;
}

static void
cycle_reap(fg_master_t *m, int is_stopping)
{
    pid_t    pid;
    int      status;
    unsigned i;
    int64_t  now = fg_mono_ms();

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        cycle_child_t *c = NULL;
        unsigned       held;
        uint64_t       conns;

        for (i = 0; i < FG_SHM_MAX_WORKERS; i++) {
            if (cycle_children[i].pid == pid) {
                c = &cycle_children[i];
                break;
            }
        }
        if (c == NULL) {
            if (pid == cycle_syncer.pid) {
                cycle_reap_syncer(m, status, is_stopping, now);
            }
            continue;
        }
        if (WIFSIGNALED(status)) {
            fg_log(FG_LOG_NOTICE, 0, "worker#%u (pid %d) killed by signal "
                   "%d", i, (int) pid, WTERMSIG(status));
        } else {
            fg_log(FG_LOG_NOTICE, 0, "worker#%u (pid %d) exited with code "
                   "%d", i, (int) pid, WEXITSTATUS(status));
        }
        /* Before the slot can be reused: what the dead worker held. */
        held = fg_ledger_repair(m->shm.ledger, i, fg_wall_ms(),
                                cycle_lost_cb, m);
        if (held > 0) {
            fg_log(FG_LOG_NOTICE, 0, "worker#%u held %u energy "
                   "reservations; settled in full", i, held);
        }
        held = fg_limiter_release_worker(m->shm.limiter, i);
        if (held > 0) {
            fg_log(FG_LOG_NOTICE, 0, "worker#%u held %u concurrency slots; "
                   "given back", i, held);
        }
        conns = fg_clientconns_release_worker(m->shm.clients, i);
        if (conns > 0) {
            fg_log(FG_LOG_NOTICE, 0, "worker#%u counted %llu client "
                   "connections; given back", i,
                   (unsigned long long) conns);
        }
        atomic_store(&fg_shm_worker(&m->shm, i)->ws_state, FG_WORKER_FREE);
        atomic_store(&fg_shm_worker(&m->shm, i)->ws_pid, 0);
        c->pid = 0;
        if (is_stopping || c->is_old || c->generation != cycle_generation) {
            continue;
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
            fg_log(FG_LOG_ERROR, 0, "worker#%u failed fatally; not "
                   "respawning it", i);
            continue;
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            /* Told to stop by someone else than us: a clean exit, so no
             * crash backoff, but the pool is short of a worker. */
            c->backoff_ms = 0;
            c->respawn_at_ms = now;
            continue;
        }
        if (now - c->started_ms >= CYCLE_STABLE_MS || c->backoff_ms == 0) {
            c->backoff_ms = now - c->started_ms >= CYCLE_STABLE_MS
                            ? 0 : CYCLE_BACKOFF_MIN_MS;
            c->respawn_at_ms = now;
        } else {
            c->respawn_at_ms = now + c->backoff_ms;
            fg_log(FG_LOG_WARN, 0, "worker#%u keeps crashing; respawning "
                   "in %lld ms", i, (long long) c->backoff_ms);
            c->backoff_ms *= 2;
            if (c->backoff_ms > CYCLE_BACKOFF_MAX_MS) {
                c->backoff_ms = CYCLE_BACKOFF_MAX_MS;
            }
        }
    }
}

/* Signals the workers (only the old generation's when @only_old); the
 * syncer too when @with_syncer. */
static void
cycle_signal_children(int sig, int only_old, int with_syncer)
{
    unsigned i;

    for (i = 0; i < FG_SHM_MAX_WORKERS; i++) {
        if (cycle_children[i].pid > 0
            && (!only_old || cycle_children[i].is_old)) {
            kill(cycle_children[i].pid, sig);
        }
    }
    if (with_syncer && cycle_syncer.pid > 0) {
        kill(cycle_syncer.pid, sig);
    }
}

static int
cycle_children_alive(void)
{
    unsigned i;
    int      n = 0;

    for (i = 0; i < FG_SHM_MAX_WORKERS; i++) {
        n += cycle_children[i].pid > 0;
    }
    return n + (cycle_syncer.pid > 0);
}

/* The catalog's ids become label values before a worker can serve them;
 * the master is the name table's only writer (common/base/metrics.h). */
static void
cycle_metrics_setup(fg_master_t *m)
{
    const fg_catalog_t *c = m->catalog;
    fg_err_t            err;
    size_t              i;
    int                 failed = 0;

    fg_metrics_set_per_key(m->shm.metrics, (int) m->conf->metrics_per_key);
    for (i = 0; i < c->provider_count + c->model_count; i++) {
        const char *id = i < c->provider_count
                         ? c->providers[i].id
                         : c->models[i - c->provider_count].id;

        if (fg_metrics_name_add(m->shm.metrics, id, &err) != FG_OK
            && failed++ == 0) {
            fg_log(FG_LOG_WARN, 0, "%s", err.msg);
        }
    }
}

/*
 * Binds every endpoint of the catalog to its entry of the health table
 * (an entry still served keeps its figures across a reload) and
 * publishes the list the admin API joins the table with. The catalog is
 * immutable after load but for this one field, set here before the
 * workers that read it fork.
 */
static void
cycle_health_bind(fg_master_t *m)
{
    fg_catalog_t    *c = m->catalog;
    fg_health_row_t *rows;
    fg_endpoint_t   *e;
    size_t           i, n = 0;
    int              warned = 0;

    rows = fg_xcalloc(c->endpoint_count + 1, sizeof(*rows));
    for (i = 0; i < c->endpoint_count; i++) {
        e = &c->endpoints[i];
        e->health_slot = fg_health_bind(m->shm.health, e->provider->id,
                                        e->upstream_id);
        if (e->health_slot < 0) {
            if (!warned++) {
                fg_log(FG_LOG_WARN, 0, "routing.max_endpoints is full: "
                       "endpoint %s/%s is routed without health",
                       e->provider->id, e->upstream_id);
            }
            continue;
        }
        rows[n].slot = e->health_slot;
        snprintf(rows[n].model, sizeof(rows[n].model), "%s", e->model->id);
        snprintf(rows[n].country, sizeof(rows[n].country), "%s",
                 e->location != NULL ? e->location : "");
        n++;
    }
    fg_health_publish(m->shm.health, rows, n);
    free(rows);
}

/*
 * The keys a reload cannot change, kept from @old in @conf: the response
 * store's caps and folder, which the syncer (it outlives a reload) sweeps
 * by and the arena counts for; workers of two settings would disagree on
 * them. Says so when the file asked for another value.
 */
static void
cycle_keep_restart_keys(const fg_conf_t *old, fg_conf_t *conf)
{
    if (conf->responses_store_bytes != old->responses_store_bytes
        || conf->responses_store_key_bytes != old->responses_store_key_bytes
        || conf->responses_store_ttl_s != old->responses_store_ttl_s
        || conf->responses_store_sweep_s != old->responses_store_sweep_s
        || strcmp(conf->responses_dir, old->responses_dir) != 0) {
        fg_log(FG_LOG_WARN, 0, "reload: responses.* and data_dir changes "
               "take effect at restart; the response store keeps its "
               "settings");
    }
    conf->responses_store_bytes = old->responses_store_bytes;
    conf->responses_store_key_bytes = old->responses_store_key_bytes;
    conf->responses_store_ttl_s = old->responses_store_ttl_s;
    conf->responses_store_sweep_s = old->responses_store_sweep_s;
    memcpy(conf->responses_dir, old->responses_dir,
           sizeof(conf->responses_dir));
}

static int
cycle_reload(fg_master_t *m)
{
    fg_conf_t     *conf;
    fg_catalog_t  *catalog;
    fg_listeners_t listeners;
    fg_err_t       err;
    unsigned       i, started = 0;

    if (fg_master_load(m, &conf, &catalog, &err) != FG_OK) {
        fg_log(FG_LOG_ERROR, 0, "reload failed, configuration kept: %s",
               err.msg);
        return FG_ERR;
    }
    if (fg_fdlimit_apply(conf, catalog, NULL, &err) != FG_OK
        || fg_listeners_open(&listeners, conf, &m->listeners, &err)
           != FG_OK) {
        fg_log(FG_LOG_ERROR, 0, "reload failed, configuration kept: %s",
               err.msg);
        fg_catalog_free(catalog);
        free(conf);
        return FG_ERR;
    }
    /* What the new set did not reuse is closed in the master now; old
     * workers keep their own copies until they exit. */
    fg_listeners_close(&m->listeners);
    m->listeners = listeners;
    fg_catalog_free(m->catalog);
    cycle_keep_restart_keys(m->conf, conf);
    free(m->conf);
    m->conf = conf;
    m->catalog = catalog;
    if (fg_log_open(conf->log_file, conf->log_level) != 0) {
        fg_log(FG_LOG_ERROR, errno, "open(\"%s\") for the log failed",
               conf->log_file);
    }
    cycle_metrics_setup(m);
    cycle_health_bind(m);

    for (i = 0; i < FG_SHM_MAX_WORKERS; i++) {
        if (cycle_children[i].pid > 0) {
            cycle_children[i].is_old = 1;
        }
        cycle_children[i].respawn_at_ms = 0;
    }
    cycle_generation++;
    atomic_store(&m->shm.header->sh_generation, cycle_generation);
    atomic_store(&m->shm.header->sh_workers_wanted, (uint32_t) conf->workers);
    for (i = 0; i < FG_SHM_MAX_WORKERS && started < (unsigned) conf->workers;
         i++) {
        if (cycle_children[i].pid == 0) {
            cycle_children[i].backoff_ms = 0;
            if (cycle_spawn(m, i) == FG_OK) {
                started++;
            }
        }
    }
    cycle_signal_children(SIGQUIT, 1, 0);
    /* A syncer given up on (its cause repaired, we are told) gets a new
     * chance: the operator's way back without a restart. */
    if (cycle_syncer.pid == 0 && cycle_syncer.respawn_at_ms == 0) {
        cycle_syncer_same_failures = 0;
        cycle_syncer.backoff_ms = 0;
        fg_log(FG_LOG_NOTICE, 0, "reload: starting the syncer again");
        cycle_spawn_syncer(m);
    }
    fg_log(FG_LOG_NOTICE, 0, "reloaded: generation %u, %u workers",
           cycle_generation, started);
    return FG_OK;
}

static void
cycle_arm_timer(int64_t now, int64_t stop_deadline)
{
    struct itimerval it;
    int64_t          next = stop_deadline;
    unsigned         i;

    if (cycle_syncer.respawn_at_ms > 0
        && (next == 0 || cycle_syncer.respawn_at_ms < next)) {
        next = cycle_syncer.respawn_at_ms;
    }
    for (i = 0; i < FG_SHM_MAX_WORKERS; i++) {
        int64_t at = cycle_children[i].respawn_at_ms;

        if (at > 0 && (next == 0 || at < next)) {
            next = at;
        }
    }
    memset(&it, 0, sizeof(it));
    if (next > 0) {
        int64_t delta = next - now < 1 ? 1 : next - now;

        it.it_value.tv_sec = delta / 1000;
        it.it_value.tv_usec = (delta % 1000) * 1000;
    }
    setitimer(ITIMER_REAL, &it, NULL);
}

int
fg_master_cycle(fg_master_t *m)
{
    static const int signals[] = { SIGCHLD, SIGTERM, SIGINT, SIGQUIT,
                                   SIGHUP, SIGUSR1, SIGALRM };
    struct sigaction sa;
    sigset_t         blocked, empty;
    int64_t          stop_deadline = 0, now;
    int              stopping = 0, killed = 0, syncer_told = 0;
    unsigned         i;
    size_t           s;

    sigemptyset(&blocked);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = cycle_signal_handler;
    sigemptyset(&sa.sa_mask);
    for (s = 0; s < sizeof(signals) / sizeof(signals[0]); s++) {
        sigaddset(&blocked, signals[s]);
        sigaction(signals[s], &sa, NULL);
    }
    signal(SIGPIPE, SIG_IGN);
    sigprocmask(SIG_BLOCK, &blocked, NULL);
    sigemptyset(&empty);

    atomic_store(&m->shm.header->sh_generation, cycle_generation);
    atomic_store(&m->shm.header->sh_workers_wanted,
                 (uint32_t) m->conf->workers);
    cycle_metrics_setup(m);
    cycle_health_bind(m);
    cycle_spawn_syncer(m);
    for (i = 0; i < (unsigned) m->conf->workers; i++) {
        cycle_spawn(m, i);
    }

    for (;;) {
        now = fg_mono_ms();
        cycle_arm_timer(now, stopping && !killed ? stop_deadline : 0);
        sigsuspend(&empty);
        now = fg_mono_ms();
        cycle_sig_alarm = 0;

        if (cycle_sig_reap) {
            cycle_sig_reap = 0;
            cycle_reap(m, stopping);
        }
        if ((cycle_sig_terminate || cycle_sig_quit) && !stopping) {
            int sig = cycle_sig_terminate ? SIGTERM : SIGQUIT;

            stopping = 1;
            stop_deadline = now + m->conf->shutdown_timeout_ms
                            + CYCLE_KILL_GRACE_MS;
            fg_log(FG_LOG_NOTICE, 0, "%s: stopping %d workers",
                   sig == SIGTERM ? "SIGTERM" : "SIGQUIT",
                   cycle_children_alive());
            /* Ours first, then the workers close theirs as they drain:
             * once a worker says it drains, the kernel refuses new
             * connections instead of queueing them where nobody will
             * accept (and then resetting them). */
            fg_listeners_close(&m->listeners);
            /* The syncer last: it must record what the draining workers
             * still charge and refund, then drain their usage records. */
            cycle_signal_children(sig, 0, 0);
        }
        if (stopping) {
            if (cycle_children_alive() - (cycle_syncer.pid > 0) == 0
                && cycle_syncer.pid > 0 && !syncer_told) {
                kill(cycle_syncer.pid, SIGTERM);
                syncer_told = 1;
            }
            if (cycle_children_alive() == 0) {
                fg_log(FG_LOG_NOTICE, 0, "all workers exited; bye");
                return 0;
            }
            if (!killed && now >= stop_deadline) {
                fg_log(FG_LOG_WARN, 0, "workers still running after the "
                       "shutdown deadline; killing them");
                cycle_signal_children(SIGKILL, 0, 1);
                killed = 1;
            }
            continue;
        }
        if (cycle_sig_reload) {
            cycle_sig_reload = 0;
            fg_log(FG_LOG_NOTICE, 0, "SIGHUP: reloading configuration");
            (void) cycle_reload(m);
        }
        if (cycle_sig_reopen) {
            cycle_sig_reopen = 0;
            if (fg_log_reopen() != 0) {
                fg_log(FG_LOG_ERROR, errno, "reopening the log failed");
            }
            cycle_signal_children(SIGUSR1, 0, 1);
        }
        for (i = 0; i < FG_SHM_MAX_WORKERS; i++) {
            cycle_child_t *c = &cycle_children[i];

            if (c->respawn_at_ms > 0 && c->respawn_at_ms <= now
                && c->pid == 0) {
                c->respawn_at_ms = 0;
                atomic_fetch_add(&m->shm.header->sh_worker_restarts, 1);
                cycle_spawn(m, i);
            }
        }
        if (cycle_syncer.respawn_at_ms > 0 && cycle_syncer.respawn_at_ms <= now
            && cycle_syncer.pid == 0) {
            cycle_syncer.respawn_at_ms = 0;
            cycle_spawn_syncer(m);
        }
        if (cycle_children_alive() - (cycle_syncer.pid > 0) == 0) {
            int pending = 0;

            for (i = 0; i < FG_SHM_MAX_WORKERS; i++) {
                pending += cycle_children[i].respawn_at_ms > 0;
            }
            if (!pending) {
                fg_log(FG_LOG_ERROR, 0, "no worker is running and none can "
                       "be started; exiting");
                if (cycle_syncer.pid > 0) {
                    kill(cycle_syncer.pid, SIGTERM);
                    (void) waitpid(cycle_syncer.pid, NULL, 0);
                }
                return 1;
            }
        }
    }
}
