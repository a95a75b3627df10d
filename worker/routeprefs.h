#ifndef FG_WORKER_ROUTEPREFS_H
#define FG_WORKER_ROUTEPREFS_H

/*
 * The request's routing fields (routereq.h, validated) read into the
 * router's input (common/route/router.h). Everything it fills borrows
 * from the request's parsed body.
 */

#include "common/base/catalog.h"
#include "common/base/errors.h"
#include "common/route/router.h"
#include "common/wire/jdoc.h"
#include "worker/routereq.h"

/*
 * The router's prefs for the request: "model" (@model, as validated) and
 * its fallbacks resolved in @catalog, the provider preferences, the
 * preset (@key_preset, FG_PRESET_UNSET when the key has none, applies
 * when the request names none) and the filters. Borrows from @doc.
 * FG_OK, or FG_ERR with @err: 404 model_not_found naming the entry.
 */
int fg_routereq_prefs(const fg_jdoc_t *doc, const fg_routereq_t *rr,
                      const char *model, const fg_catalog_t *catalog,
                      fg_preset_t key_preset, fg_route_prefs_t *prefs,
                      fg_err_t *err);

/*
 * What the request needs of an endpoint, from @doc: tools, json_schema,
 * reasoning_effort, and with @with_params (only provider.
 * require_parameters reads them) its optional top-level fields (every
 * member but the ones any endpoint takes: model, messages, stream,
 * stream_options and the routing fields). One pass over the top level.
 * The token counts and images are the caller's.
 */
void fg_routereq_need(const fg_jdoc_t *doc, int with_params,
                      fg_route_need_t *need);

#endif
