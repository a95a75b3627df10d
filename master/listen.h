#ifndef FG_MASTER_LISTEN_H
#define FG_MASTER_LISTEN_H

/*
 * The master's listening sockets: bound once, inherited by every worker.
 * A reload keeps the sockets whose address did not change, so no
 * connection attempt is refused while workers are replaced. The metrics
 * listener (metrics.listen) is one more socket of the set, kept apart
 * from the public ones: workers serve only GET /metrics on it.
 */

#include "common/base/conf.h"
#include "common/base/errors.h"

typedef struct {
    fg_listen_t addr[FG_CONF_MAX_LISTEN];
    int         fd[FG_CONF_MAX_LISTEN];
    int         count;
    fg_listen_t metrics_addr;
    int         metrics_fd;             /* -1: metrics.listen is "off" */
} fg_listeners_t;

/*
 * Opens the listeners @conf asks for, the metrics listener included,
 * reusing the matching sockets of @old (which may be NULL; its reused fds
 * are moved, the rest stay in @old). Returns FG_OK, or FG_ERR with @err
 * naming the setting, the address and the call that failed; on failure
 * nothing of @old was moved and nothing is left open.
 */
int fg_listeners_open(fg_listeners_t *out, const fg_conf_t *conf,
                      fg_listeners_t *old, fg_err_t *err);

/*
 * A TCP socket bound to @addr, listening, non-blocking, close-on-exec,
 * with TCP_NODELAY for the connections it accepts. Returns the socket,
 * or -1 with @err naming the call that failed.
 */
int fg_listen_bind(const fg_listen_t *addr, fg_err_t *err);

/* Closes every socket in @l, the metrics listener's too. */
void fg_listeners_close(fg_listeners_t *l);

#endif
