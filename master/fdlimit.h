#ifndef FG_MASTER_FDLIMIT_H
#define FG_MASTER_FDLIMIT_H

/*
 * The descriptors a process of the node may need, and the soft
 * RLIMIT_NOFILE set to match at start-up (and checked again by a reload).
 * A process needs at most:
 *
 *   limits.max_connections                      clients of the public port
 * + upstream.max_connections_per_host × enabled providers
 * + FG_METRICS_MAX_CONNECTIONS + FG_ADMIN_MAX_CONNECTIONS
 * + FG_FDLIMIT_SPARE                            listeners, logs, store, shm,
 *                                               libcurl's own, the event base
 *
 * Every term is a cap the code enforces, so a process at its limit still
 * has a descriptor for each upstream connection it is allowed to open.
 */

#include <stdint.h>

#include "common/base/catalog.h"
#include "common/base/conf.h"
#include "common/base/errors.h"

#define FG_FDLIMIT_SPARE 64

/* The sum above for @conf and @catalog. */
int64_t fg_fdlimit_need(const fg_conf_t *conf, const fg_catalog_t *catalog);

/*
 * Sets the soft RLIMIT_NOFILE to min(hard, need) (raising or lowering it;
 * children inherit it). Returns FG_OK, or FG_ERR with @err naming both
 * numbers when the hard limit is below the need (the node cannot keep
 * its caps), or when getrlimit/setrlimit fail. *@soft_out (may be NULL)
 * gets the limit in force.
 */
int fg_fdlimit_apply(const fg_conf_t *conf, const fg_catalog_t *catalog,
                     int64_t *soft_out, fg_err_t *err);

#endif
