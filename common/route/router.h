#ifndef FG_ROUTE_ROUTER_H
#define FG_ROUTE_ROUTER_H

/*
 * The router: one request in, an ordered list of endpoints out
 * (docs/routing.md). It knows the catalog, the health table and what the
 * request asks and needs; it calls nothing upstream, takes no admission
 * and allocates nothing.
 *
 *   1. Expand the model and its fallbacks into their endpoints.
 *   2. Drop those that cannot take the request: the key may not use the
 *      model; a provider that is disabled; image input without vision;
 *      tools, json_schema or a reasoning_effort value it does not
 *      support (itself or as its model's reasoning_effort_map sends it);
 *      an API it does not serve; the prompt's lower bound plus the output
 *      asked beyond its window; provider.only / ignore / order without
 *      allow_fallbacks / quantizations / max_price / require_parameters /
 *      the filters; a circuit open or a cool-down (health.h).
 *   3. None left: the most specific reason (fg_route_plan's errors).
 *   4. Order: fallback models after the model, each model's endpoints by
 *      provider.order first, else provider.sort, else the preset; equal
 *      endpoints in a random order drawn from @random (load share).
 *
 * The scores (lower first; docs/routing.md, "Choosing an endpoint"), with completion =
 * min(max_output, or the endpoint's max_output_tokens when none was
 * asked, expected_completion_tokens) per choice:
 *   price        fg_route_expected_cost();
 *   speed        ttft_ms + completion / tps * 1000 from the health EWMAs;
 *                unmeasured: ttft 1000 ms, 50 tokens/s;
 *   quality      -(model quality x 100 + the endpoint's weight bits:
 *                bf16 16, fp8 8, int4 4, unknown 8), so one model's
 *                less quantised endpoints come first;
 *   environment  g CO2e: prompt_upper * co2_g_per_mtok_prompt / 1e6
 *                + completion * n * co2_g_per_mtok_completion / 1e6;
 *   balanced     0.4 price + 0.3 speed + 0.3 environment, each min-max
 *                normalised to [0,1] over the model's candidates (all
 *                equal: 0); quality is constant within a model.
 * provider.sort: price as above, throughput -tps, latency ttft. Scores
 * within a relative 1e-9 are equal and shuffled (splitmix64 of @random);
 * nothing is weighted by price.
 *
 * Strings in fg_route_prefs_t are borrowed (from the request's body) and
 * need not be NUL-terminated: each has its length.
 */

#include <stddef.h>
#include <stdint.h>

#include "common/base/catalog.h"
#include "common/base/errors.h"
#include "common/route/health.h"
#include "common/route/preset.h"

#define FG_ROUTE_MAX_MODELS      8    /* model + fallbacks ("models") */
#define FG_ROUTE_MAX_LIST        16   /* entries of order, only, ignore,
                                         quantizations, countries */
#define FG_ROUTE_MAX_PARAMS      32   /* request fields require_parameters
                                         checks */
#define FG_ROUTE_MAX_CANDIDATES  64   /* endpoints ordered per request */

/* routing.expected_completion_tokens when the configuration has none. */
#define FG_ROUTE_EXPECTED_COMPLETION_DEFAULT 500

typedef enum {
    FG_SORT_NONE = 0,
    FG_SORT_PRICE,
    FG_SORT_THROUGHPUT,
    FG_SORT_LATENCY
} fg_sort_t;

/* A borrowed string with its length. */
typedef struct {
    const char *s;
    size_t      len;
} fg_route_str_t;

/* What the request asks of the routing (all optional). */
typedef struct {
    /* "model" then "models"/"fallbacks", resolved; pinned[i] is the
     * provider a "P/M" name pinned (only it, no provider fallback). */
    const fg_model_t    *models[FG_ROUTE_MAX_MODELS];
    const fg_provider_t *pinned[FG_ROUTE_MAX_MODELS];
    size_t               n_models;

    /* "provider" */
    fg_route_str_t       order[FG_ROUTE_MAX_LIST];
    size_t               n_order;
    fg_route_str_t       only[FG_ROUTE_MAX_LIST];
    size_t               n_only;
    int                  has_only;           /* "only" given (maybe []) */
    fg_route_str_t       ignore[FG_ROUTE_MAX_LIST];
    size_t               n_ignore;
    int                  allow_fallbacks;    /* default 1 */
    fg_sort_t            sort;
    int64_t              max_price_prompt;       /* micro-credits per
                                                    million; -1: none */
    int64_t              max_price_completion;   /* likewise */
    int                  require_parameters;
    fg_route_str_t       quantizations[FG_ROUTE_MAX_LIST];
    size_t               n_quantizations;
    int                  has_quantizations;

    fg_preset_t          preset;             /* FG_PRESET_UNSET: default */

    /* "filters" */
    fg_route_str_t       countries[FG_ROUTE_MAX_LIST];
    size_t               n_countries;
    int                  has_countries;
    double               max_carbon_intensity;   /* g/kWh; < 0: none */
    int64_t              max_input_cost;     /* micro-credits per million
                                                prompt tokens; -1: none */
    double               min_speed_tps;      /* < 0: none */
} fg_route_prefs_t;

/* What the request needs of an endpoint. */
typedef struct {
    unsigned        api;                 /* FG_API_* */
    int             has_images;
    int             uses_tools;
    int             uses_json_schema;
    fg_route_str_t  reasoning_effort;    /* .s NULL: not asked */
    int64_t         prompt_upper;        /* tokens (tokcount.h) */
    int64_t         prompt_lower;
    int64_t         max_output;          /* per choice as asked; 0: none */
    int64_t         choices;             /* n, >= 1 */
    fg_route_str_t  params[FG_ROUTE_MAX_PARAMS];   /* its optional
                                                      top-level fields */
    size_t          n_params;
    int             params_overflow;     /* more than FG_ROUTE_MAX_PARAMS */
} fg_route_need_t;

/* The router's settings (routing.* in the configuration). */
typedef struct {
    int64_t          expected_completion_tokens;
    fg_health_conf_t circuit;
} fg_route_conf_t;

/* Whether the caller's key may use @model (the allowlist): 1 or 0. */
typedef int (*fg_route_allows_pt)(void *arg, const fg_model_t *model);

typedef struct {
    const fg_endpoint_t *endpoint;
    int64_t              max_output;     /* per choice at this endpoint:
                                            as asked, or its maximum cut
                                            to what its window leaves */
    int64_t              expected_micro; /* the price preset's figure */
    double               score;          /* the order's key, lower first */
} fg_route_candidate_t;

typedef struct {
    fg_route_candidate_t c[FG_ROUTE_MAX_CANDIDATES];
    size_t               n;
    fg_preset_t          preset;         /* the one applied */
} fg_route_plan_t;

/*
 * Plans @prefs + @need over @catalog with @health (NULL: every endpoint
 * healthy, unmeasured) as of @now_ms. @allows/@allow_arg decide the key's
 * models (NULL: all). @random seeds the load share among equals.
 *
 * FG_OK with @out->n >= 1; or FG_ERR with @err set to the most specific
 * reason nothing is left, in this order of precedence:
 *   FG_E_MODEL_NOT_ALLOWED (403)    the key may use none of the models;
 *   FG_E_UNSUPPORTED_IMAGE_INPUT (400)  images were the reason;
 *   FG_E_CONTEXT_LENGTH_EXCEEDED (400)  the window was (the prompt's
 *                                   bound, the window and the output in
 *                                   the message);
 *   FG_E_UNSUPPORTED_PARAMETER (400)  a capability was (tools,
 *                                   response_format, reasoning_effort:
 *                                   err.param names it and the message
 *                                   the values the model accepts and
 *                                   maps);
 *   FG_E_NO_PROVIDER_AVAILABLE (503)  every endpoint left was unhealthy:
 *                                   *@retry_after_s (>= 1) is when the
 *                                   earliest may be tried again;
 *   FG_E_NO_MATCHING_ENDPOINT (404)   the request's provider preferences
 *                                   or filters excluded every endpoint
 *                                   (err.param names the field).
 * Each endpoint is checked in that order (the key, images, the window,
 * tools, json_schema, reasoning_effort, the API, then provider.only,
 * ignore, order without fallbacks, quantizations, max_price,
 * require_parameters, filters.countries, max_carbon_intensity,
 * max_input_cost, min_speed_tps, and health last) and counts for the
 * first check it fails. The key's error needs every endpoint dropped by
 * the key; otherwise the first reason in that order any endpoint counts
 * for wins, so health (503) wins over a preference only when an endpoint
 * failed for health alone; among preferences the param is the last of
 * them that dropped one ("model" for the API; "model" too when no
 * endpoint was a candidate: every provider disabled).
 * Pure; no allocation, no syscalls.
 */
int fg_route_plan(const fg_catalog_t *catalog, const fg_health_t *health,
                  const fg_route_conf_t *conf, const fg_route_prefs_t *prefs,
                  const fg_route_need_t *need, fg_route_allows_pt allows,
                  void *allow_arg, int64_t now_ms, uint64_t random,
                  fg_route_plan_t *out, int64_t *retry_after_s,
                  fg_err_t *err);

/*
 * The reasoning_effort value endpoint @e is sent for the value @asked
 * (the request's top-level "reasoning_effort", its bytes as the body
 * holds them): @asked itself when @e accepts it, else the value its
 * model's reasoning_effort_map gives for @asked when @e accepts that;
 * NULL when neither (the router drops @e then). *@len gets the length
 * of the value returned (not NUL-terminated when it is @asked's bytes).
 * Borrowed: @asked's bytes or the catalog's. What the router filters
 * by, upstream_body.c writes and the pipeline's
 * x-fluxgate-reasoning-effort header reports. Pure; cannot fail.
 */
const char *fg_route_reasoning_effort(const fg_endpoint_t *e,
                                      fg_route_str_t asked, size_t *len);

/* Empty prefs: no fallback model, allow_fallbacks 1, no price or filter
 * limit, FG_PRESET_UNSET. */
void fg_route_prefs_init(fg_route_prefs_t *prefs);


/*
 * The expected cost in micro-credits of the request at @endpoint: the
 * prompt's upper bound at its prompt price plus, as completion, the
 * request's output limit (its maximum at the endpoint when none was
 * asked) capped at @expected_completion, times n, at its completion
 * price (fg_ledger_cost: as the meter prices it). @expected_completion
 * <= 0 is FG_ROUTE_EXPECTED_COMPLETION_DEFAULT. What the price preset
 * and provider.sort = price rank by.
 */
int64_t fg_route_expected_cost(const fg_endpoint_t *endpoint,
                               const fg_route_need_t *need,
                               int64_t expected_completion);

#endif
