#ifndef FG_WORKER_ROUTEREQ_H
#define FG_WORKER_ROUTEREQ_H

/*
 * The request's own fields of the gateway: the routing fields
 * (docs/routing.md) "models" or "fallbacks", "route", "provider",
 * "preset" and "filters", and "transforms", "plugins" and "reasoning"
 * (docs/api.md). They are the gateway's, never the provider's:
 * validation checks them strictly (an unknown member or value inside
 * one is a 400 naming its path), upstream_body.c removes them from what
 * the provider receives (translating "reasoning" for the endpoint), and
 * routeprefs.h reads the routing ones into the router's prefs and needs.
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
    FG_ROUTEREQ_TRANSFORMS,
    FG_ROUTEREQ_PLUGINS,
    FG_ROUTEREQ_REASONING,
    FG_ROUTEREQ_FIELDS
};

#define FG_ROUTEREQ_LIST_MAX 8      /* entries of transforms and plugins */
#define FG_ROUTEREQ_REASONING_MAX_TOKENS 2147483647LL

/* The reasoning efforts, each rank its index in the order none <
 * minimal < low < medium < high < xhigh. */
#define FG_ROUTEREQ_EFFORTS 6

/* Where the routing fields are in the document: value nodes, FG_JNONE
 * when absent (null counts as absent, and is removed all the same). */
typedef struct {
    int member[FG_ROUTEREQ_FIELDS];   /* value nodes, FG_JNONE absent */
    int fallbacks;                    /* models or fallbacks: the array */
} fg_routereq_t;

/* The request's transforms, plugins and reasoning. */
typedef struct {
    int      compress;          /* -1 unset (the key decides), 0 off, 1 on */
    int      heal;              /* -1 unset (default: repair non-stream JSON
                                   modes), 0 off (no repair at all), 1 on
                                   (streams too) */
    int      has_reasoning;     /* a "reasoning" object was given (not
                                   null) */
    int      reasoning_enabled; /* 1 unless enabled:false or effort "none"
                                   (0 without a reasoning object) */
    int      reasoning_exclude; /* exclude: true */
    fg_route_str_t reasoning_effort;   /* reasoning.effort (.s NULL: none;
                                          static storage) */
    int64_t  reasoning_max_tokens;     /* reasoning.max_tokens; 0 none */
    int      json_mode;         /* response_format json_object or
                                   json_schema */
} fg_transformreq_t;

/*
 * Checks the gateway's fields of the request object (node 0 of @doc) and
 * records where they are in @out and what transforms, plugins and
 * reasoning say in @xf (all but json_mode, which is validate.c's). FG_OK,
 * or FG_ERR with @err (code, param path, message naming what was
 * expected and what came, quoting at most FG_ROUTEREQ_NAME_MAX bytes of
 * the client's). One pass over the top level; the rest only for the
 * fields given.
 *
 *   "transforms": at most FG_ROUTEREQ_LIST_MAX strings, each
 *       "middle-out"; [] turns compression off.
 *   "plugins": at most FG_ROUTEREQ_LIST_MAX objects {"id", "enabled"?},
 *       each id once: "context-compression" (as transforms' middle-out;
 *       the plugin decides when both are given), "response-healing".
 *       "web" and "file-parser" are refused as not offered.
 *   "reasoning": {"effort"?, "max_tokens"?, "exclude"?, "enabled"?};
 *       effort one of none minimal low medium high xhigh, max_tokens an
 *       integer 1..FG_ROUTEREQ_REASONING_MAX_TOKENS and below each token
 *       limit the request names; not effort and max_tokens both, nor
 *       beside a top-level "reasoning_effort".
 */
int fg_routereq_validate(const fg_jdoc_t *doc, fg_routereq_t *out,
                         fg_transformreq_t *xf, fg_err_t *err);

/* The bytes of string node @s as the body holds them, for a name
 * validation found plain (no escape to decode). */
fg_route_str_t fg_routereq_str(const fg_jdoc_t *doc, int s);

/* The rank of the effort named by the @len bytes at @s, or -1 when they
 * name none. */
int fg_routereq_effort_rank(const char *s, size_t len);

/* The name of effort rank @rank (0 .. FG_ROUTEREQ_EFFORTS - 1). Static
 * storage. */
const char *fg_routereq_effort_name(int rank);

#endif
