#ifndef FG_WORKER_ROUTEREQ_H
#define FG_WORKER_ROUTEREQ_H

/*
 * The request's routing fields (docs/routing.md): "models" or
 * "fallbacks", "route", "provider", "preset" and "filters". They are the
 * gateway's, never the provider's: validation checks them strictly (an
 * unknown member or value inside provider or filters is a 400 naming its
 * path), upstream_body.c removes them from what the provider receives,
 * and routeprefs.h reads them into the router's prefs and needs.
 *
 * Names the router compares (provider ids, quantizations, countries) must
 * be plain: [A-Za-z0-9._:/-], 1 to FG_ROUTEREQ_NAME_MAX bytes, so the
 * router may borrow their bytes from the body as they are (no escape to
 * decode).
 */

#include <stdint.h>

#include "common/base/errors.h"
#include "common/route/preset.h"
#include "common/route/router.h"
#include "common/wire/jdoc.h"

#define FG_ROUTEREQ_NAME_MAX 64

/* The top-level members the gateway removes, in this order. */
enum {
    FG_ROUTEREQ_MODELS = 0,
    FG_ROUTEREQ_FALLBACKS,
    FG_ROUTEREQ_ROUTE,
    FG_ROUTEREQ_PROVIDER,
    FG_ROUTEREQ_PRESET,
    FG_ROUTEREQ_FILTERS,
    FG_ROUTEREQ_FIELDS
};

/* Where the routing fields are in the document: value nodes, FG_JNONE
 * when absent (null counts as absent, and is removed all the same). */
typedef struct {
    int member[FG_ROUTEREQ_FIELDS];   /* value nodes, FG_JNONE absent */
    int fallbacks;                    /* models or fallbacks: the array */
} fg_routereq_t;

/*
 * Checks the routing fields of the request object (node 0 of @doc) and
 * records them in @out. FG_OK, or FG_ERR with @err (code, param path,
 * message naming what was expected and what came).
 */
int fg_routereq_validate(const fg_jdoc_t *doc, fg_routereq_t *out,
                         fg_err_t *err);

/* The bytes of string node @s as the body holds them, for a name
 * validation found plain (no escape to decode). */
fg_route_str_t fg_routereq_str(const fg_jdoc_t *doc, int s);

#endif
