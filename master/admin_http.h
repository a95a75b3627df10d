#ifndef FG_MASTER_ADMIN_HTTP_H
#define FG_MASTER_ADMIN_HTTP_H

/*
 * The admin API's HTTP layer (docs/admin-api.md): routes, the admin token,
 * JSON bodies in and out. The work is the key store's; this file only
 * translates. Runs in the syncer process, on its event loop.
 */

#include <stdint.h>

#include <event2/http.h>

#include "common/store/keystore.h"
#include "common/base/shm.h"

typedef struct {
    fg_keystore_t  *keys;           /* borrowed */
    fg_store_t     *store;          /* borrowed, for the status endpoint */
    const fg_shm_t *shm;            /* borrowed, for the status endpoint */
    const char     *token;          /* borrowed, NUL-terminated */
    int64_t         started_ms;     /* monotonic, for uptime */
    int             store_failed;   /* set when a commit failed for good */
    const char     *usage_path;     /* the usage journal, borrowed */
} fg_admin_http_t;

/*
 * Serves the admin API on @http with @a (borrowed; it outlives @http).
 * Sets the body limit and the allowed methods. Cannot fail.
 */
void fg_admin_http_init(struct evhttp *http, fg_admin_http_t *a);

#endif
