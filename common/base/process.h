#ifndef FG_COMMON_PROCESS_H
#define FG_COMMON_PROCESS_H

/*
 * The contract between the master and the processes it forks. The master
 * knows a worker only through this header (master/ never includes
 * worker/): what a worker is given, and its entry point, implemented in
 * worker/worker.c and linked into the same binary.
 */

#include <stdint.h>

#include "common/base/catalog.h"
#include "common/base/conf.h"
#include "common/base/shm.h"

/* Connections a worker's metrics listener holds at once, at most. */
#define FG_METRICS_MAX_CONNECTIONS   64

typedef struct {
    const fg_conf_t    *conf;         /* borrowed, immutable */
    const fg_catalog_t *catalog;      /* borrowed, immutable */
    const int          *listen_fds;   /* borrowed */
    int                 listen_count;
    int                 metrics_fd;    /* GET /metrics only; -1: off */
    fg_shm_t           *shm;
    unsigned            slot;          /* this worker's shm slot */
    uint32_t            generation;    /* config generation served */
    const uint8_t      *server_secret; /* key hashing; 32 bytes, borrowed */
    int                 syncer_wake_fd; /* eventfd to wake the syncer with
                                         * a reservation to sync; -1 */
} fg_worker_config_t;

/*
 * Runs a worker in the calling (freshly forked) process until it has
 * drained. Returns the process exit code: 0 after a drain, 2 for a
 * start-up failure the master must not retry (logged by the worker).
 */
int fg_worker_run(const fg_worker_config_t *wc);

#endif
