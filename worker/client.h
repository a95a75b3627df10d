#ifndef FG_WORKER_CLIENT_H
#define FG_WORKER_CLIENT_H

/*
 * The real client of a request that came through a trusted proxy
 * (limits.trusted_proxies) without a PROXY protocol header: the last hop
 * of X-Forwarded-For that is not itself a trusted proxy (nginx's
 * real_ip_recursive), walking from the right, across repeated fields from
 * the last. It becomes the request's client address (access log, usage
 * record), and the request counts as one of that client's connections
 * (limits.max_connections_per_client) until it ends: the proxy's own
 * connections are not counted (worker/conn.c), since they carry many
 * clients. A hop that is not an address ends the walk; a peer that is
 * not trusted has its X-Forwarded-For ignored.
 */

#include "common/base/errors.h"
#include "worker/request.h"

/*
 * For @req, just made from @head on a connection from @peer: sets
 * req->client_addr and takes the client's count. Returns FG_OK, or FG_ERR
 * with @err (503 service_unavailable) when the client is over its limit
 * (nothing taken).
 */
int fg_client_admit(fg_req_t *req, const fg_http_head_t *head,
                    const struct sockaddr *peer, fg_err_t *err);

/* Gives back what fg_client_admit() took for @req. Idempotent. */
void fg_client_release(fg_req_t *req);

#endif
