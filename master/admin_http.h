#ifndef FG_MASTER_ADMIN_HTTP_H
#define FG_MASTER_ADMIN_HTTP_H

/*
 * The admin API's HTTP layer (docs/admin-api.md): routes, the admin token,
 * JSON bodies in and out. The work is the key store's; this file only
 * translates. Runs in the syncer process, on its event loop, on the same
 * HTTP server as the public and metrics listeners
 * (common/wire/httpserver.h) with limits of its own (docs/operations.md,
 * "Listeners and their limits").
 */

#include <stdint.h>

#include <event2/event.h>

#include "common/base/shm.h"
#include "common/route/health.h"
#include "common/store/keystore.h"
#include "common/wire/httpserver.h"
#include "master/usage_query.h"

/* The admin listener's limits. */
#define FG_ADMIN_MAX_CONNECTIONS     64
#define FG_ADMIN_MAX_HEADER_BYTES    (16 * 1024)
#define FG_ADMIN_MAX_BODY_BYTES      (64 * 1024)
#define FG_ADMIN_TIMEOUT_MS          30000   /* each of the four */

typedef struct {
    fg_keystore_t  *keys;           /* borrowed */
    fg_store_t     *store;          /* borrowed, for the status endpoint */
    const fg_shm_t *shm;            /* borrowed, for the status endpoint */
    const char     *token;          /* borrowed, NUL-terminated */
    int64_t         started_ms;     /* monotonic, for uptime */
    int             store_failed;   /* set when a commit failed for good */
    const char     *usage_path;     /* the usage journal, borrowed */
    fg_usage_queries_t *queries;    /* GET /admin/v1/usage, borrowed */
    fg_health_conf_t health;        /* GET /admin/v1/providers reads the
                                       circuits with these */
} fg_admin_http_t;

/* The admin listener's limits (FG_ADMIN_*). */
void fg_admin_http_limits(fg_httpserver_limits_t *out);

/*
 * A server on @base serving the admin API with @a (borrowed; it outlives
 * the server), not yet listening (fg_httpserver_listen). Returns an owned
 * server, freed with fg_httpserver_free(). Cannot fail.
 */
fg_httpserver_t *fg_admin_http_new(struct event_base *base,
                                   fg_admin_http_t *a);

#endif
