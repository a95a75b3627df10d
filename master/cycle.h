#ifndef FG_MASTER_CYCLE_H
#define FG_MASTER_CYCLE_H

/*
 * The master's process cycle: fork the workers, supervise them, reload on
 * SIGHUP, drain on SIGTERM. See cycle.c for the state diagram.
 */

#include "common/base/catalog.h"
#include "common/base/conf.h"
#include "common/accounts/keys.h"
#include "common/base/shm.h"
#include "master/listen.h"

typedef struct {
    fg_conf_t      *conf;           /* owned; replaced on reload */
    fg_catalog_t   *catalog;        /* owned; replaced on reload */
    fg_listeners_t  listeners;
    fg_shm_t        shm;
    const char     *conf_path;      /* borrowed; NULL for defaults */
    const char     *listen_override;   /* -l, borrowed; NULL if none */
    uint8_t         server_secret[FG_KEY_SERVER_SECRET_BYTES];
    char            admin_token[FG_CONF_PATH_MAX];
    int             syncer_wake_fd; /* eventfd: workers wake the syncer */
} fg_master_t;

/*
 * Runs the master until it has shut down. Returns the process exit code:
 * 0 after a clean shutdown, 1 when no worker can run.
 */
int fg_master_cycle(fg_master_t *m);

/*
 * Repairs the arena of a previous run whose processes were all killed:
 * settles every reservation a dead process held, gives back every
 * concurrency slot, marks every worker slot free and the keys not loaded
 * (the syncer reloads them). Logs what it did. Before forking.
 */
void fg_master_recover(fg_master_t *m);

/*
 * Loads configuration and catalogs for @m->conf_path, applying the -l
 * override. Returns FG_OK with *@conf and *@catalog owned by the caller,
 * or FG_ERR with @err set. Used at start-up, by -t and by reload.
 */
int fg_master_load(const fg_master_t *m, fg_conf_t **conf,
                   fg_catalog_t **catalog, fg_err_t *err);

#endif
