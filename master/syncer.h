#ifndef FG_MASTER_SYNCER_H
#define FG_MASTER_SYNCER_H

/*
 * The syncer: the one process that writes durable state. The master forks
 * it next to the workers. It loads the key store into the shm key table,
 * then serves the admin API, committing each change to the store before
 * publishing it in the table. It keeps running across reloads (admin.*,
 * data_dir and keys.* take effect at restart).
 */

#include <stdint.h>

#include "common/base/conf.h"
#include "common/accounts/keys.h"
#include "common/base/shm.h"

typedef struct {
    const fg_conf_t *conf;                  /* borrowed */
    fg_shm_t        *shm;                   /* borrowed */
    const uint8_t   *server_secret;         /* FG_KEY_SERVER_SECRET_BYTES */
    const char      *admin_token;           /* NUL-terminated */
    int              wake_fd;               /* eventfd the workers write
                                               to; -1: none */
} fg_syncer_config_t;

/*
 * Runs the syncer in the calling (freshly forked) process until SIGTERM,
 * SIGINT or SIGQUIT. Returns the exit code: 0 after a clean stop, 1 for a
 * failure worth a retry (the store is locked, a commit could not be made
 * durable), 2 for one that is not (a corrupt journal: an operator must
 * look). Logs its own errors.
 */
int fg_syncer_run(const fg_syncer_config_t *sc);

#endif
