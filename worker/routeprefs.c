/*
 * routeprefs.c: the request's routing fields, as validated by routereq.c,
 * read into what the router takes (common/route/router.h): the models
 * resolved in the catalog, the provider preferences, the preset and the
 * filters, and what the request needs of an endpoint.
 */

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "worker/routeprefs.h"

/* The member @key of @obj, FG_JNONE when missing or null. */
static int
routereq_get(const fg_jdoc_t *doc, int obj, const char *key)
{
    int v = fg_jdoc_get(doc, obj, key);

    return fg_jdoc_type(doc, v) == FG_JNULL ? FG_JNONE : v;
}

/* A validated name's bytes, as the body holds them (no escapes). */
static fg_route_str_t
routereq_str(const fg_jdoc_t *doc, int s)
{
    fg_route_str_t out;

    out.s = doc->buf + doc->nodes[s].start + 1;
    out.len = doc->nodes[s].len - 2;
    return out;
}

/* Copies the names of the array member @key of @obj into @list. */
static size_t
routereq_list(const fg_jdoc_t *doc, int obj, const char *key,
              fg_route_str_t *list, int *given)
{
    int    arr = routereq_get(doc, obj, key), e;
    size_t n = 0;

    if (given != NULL) {
        *given = arr != FG_JNONE;
    }
    if (arr == FG_JNONE) {
        return 0;
    }
    for (e = fg_jdoc_first(doc, arr); e != FG_JNONE && n < FG_ROUTE_MAX_LIST;
         e = fg_jdoc_next(doc, arr, e)) {
        list[n++] = routereq_str(doc, e);
    }
    return n;
}

/* The number at @node (validated: >= 0), or -1 when absent. */
static double
routereq_real(const fg_jdoc_t *doc, int node)
{
    switch (fg_jdoc_type(doc, node)) {
    case FG_JINT:
        return (double) doc->nodes[node].num.i;
    case FG_JREAL:
        return doc->nodes[node].num.d;
    default:
        return -1;
    }
}

/* Credits per million tokens at @node as micro-credits; -1 absent. */
static int64_t
routereq_micro(const fg_jdoc_t *doc, int node)
{
    double x = routereq_real(doc, node);

    return x < 0 ? -1 : (int64_t) llround(x * 1e6);
}

int
fg_routereq_prefs(const fg_jdoc_t *doc, const fg_routereq_t *rr, int model,
                  const fg_catalog_t *catalog, fg_preset_t key_preset,
                  fg_route_prefs_t *prefs, fg_err_t *err)
{
    char        name[257];
    int         e, node, p, f;
    size_t      i = 0;
    const char *which;

    fg_route_prefs_init(prefs);
    (void) fg_jdoc_str_copy(doc, model, name, sizeof(name));
    prefs->models[0] = fg_catalog_resolve(catalog, name, &prefs->pinned[0]);
    if (prefs->models[0] == NULL) {
        return fg_err_set(err, FG_E_MODEL_NOT_FOUND, "model",
                          "The model '%.128s' does not exist", name);
    }
    prefs->n_models = 1;
    if (rr->fallbacks != FG_JNONE) {
        which = rr->member[FG_ROUTEREQ_MODELS] == rr->fallbacks
                ? "models" : "fallbacks";
        for (e = fg_jdoc_first(doc, rr->fallbacks); e != FG_JNONE;
             e = fg_jdoc_next(doc, rr->fallbacks, e), i++) {
            const fg_model_t *m;

            (void) fg_jdoc_str_copy(doc, e, name, sizeof(name));
            m = fg_catalog_resolve(catalog, name,
                                   &prefs->pinned[prefs->n_models]);
            if (m == NULL) {
                char at[FG_ERR_PARAM_MAX];

                snprintf(at, sizeof(at), "%s[%zu]", which, i);
                return fg_err_set(err, FG_E_MODEL_NOT_FOUND, at,
                                  "The model '%.128s' does not exist", name);
            }
            prefs->models[prefs->n_models++] = m;
        }
    }

    p = routereq_get(doc, 0, "provider");
    if (p != FG_JNONE) {
        prefs->n_order = routereq_list(doc, p, "order", prefs->order, NULL);
        prefs->n_only = routereq_list(doc, p, "only", prefs->only,
                                      &prefs->has_only);
        prefs->n_ignore = routereq_list(doc, p, "ignore", prefs->ignore,
                                        NULL);
        prefs->n_quantizations = routereq_list(doc, p, "quantizations",
                                               prefs->quantizations,
                                               &prefs->has_quantizations);
        node = routereq_get(doc, p, "allow_fallbacks");
        prefs->allow_fallbacks = fg_jdoc_type(doc, node) != FG_JFALSE;
        node = routereq_get(doc, p, "require_parameters");
        prefs->require_parameters = fg_jdoc_type(doc, node) == FG_JTRUE;
        node = routereq_get(doc, p, "sort");
        prefs->sort = node == FG_JNONE ? FG_SORT_NONE
                      : fg_jdoc_str_eq(doc, node, "price") ? FG_SORT_PRICE
                      : fg_jdoc_str_eq(doc, node, "throughput")
                        ? FG_SORT_THROUGHPUT : FG_SORT_LATENCY;
        node = routereq_get(doc, p, "max_price");
        prefs->max_price_prompt = routereq_micro(
            doc, routereq_get(doc, node, "prompt"));
        prefs->max_price_completion = routereq_micro(
            doc, routereq_get(doc, node, "completion"));
    }
    node = routereq_get(doc, 0, "preset");
    prefs->preset = node != FG_JNONE
                    ? fg_route_preset_parse(doc->buf + doc->nodes[node].start
                                            + 1, doc->nodes[node].len - 2)
                    : key_preset;
    f = routereq_get(doc, 0, "filters");
    if (f != FG_JNONE) {
        prefs->n_countries = routereq_list(doc, f, "countries",
                                           prefs->countries,
                                           &prefs->has_countries);
        prefs->max_carbon_intensity = routereq_real(
            doc, routereq_get(doc, f, "max_carbon_intensity"));
        prefs->max_input_cost = routereq_micro(
            doc, routereq_get(doc, f, "max_input_cost"));
        prefs->min_speed_tps = routereq_real(
            doc, routereq_get(doc, f, "min_speed_tps"));
    }
    return FG_OK;
}

/* Members every endpoint takes: not parameters require_parameters asks
 * about. */
static int
routereq_is_core(const fg_jdoc_t *doc, int k)
{
    static const char *const core[] = {
        "model", "messages", "stream", "stream_options", "models",
        "fallbacks", "route", "provider", "preset", "filters"
    };
    size_t i;

    for (i = 0; i < sizeof(core) / sizeof(core[0]); i++) {
        if (fg_jdoc_str_eq(doc, k, core[i])) {
            return 1;
        }
    }
    return 0;
}

void
fg_routereq_need(const fg_jdoc_t *doc, fg_route_need_t *need)
{
    int tools, rf, re, k;

    tools = routereq_get(doc, 0, "tools");
    if (tools == FG_JNONE) {
        tools = routereq_get(doc, 0, "functions");
    }
    need->uses_tools = fg_jdoc_type(doc, tools) == FG_JARRAY
                       && doc->nodes[tools].count > 0;
    rf = routereq_get(doc, 0, "response_format");
    need->uses_json_schema = fg_jdoc_str_eq(doc, routereq_get(doc, rf, "type"),
                                            "json_schema");
    re = routereq_get(doc, 0, "reasoning_effort");
    need->reasoning_effort.s = NULL;
    need->reasoning_effort.len = 0;
    if (fg_jdoc_type(doc, re) == FG_JSTRING) {
        need->reasoning_effort = routereq_str(doc, re);
    }
    need->n_params = 0;
    need->params_overflow = 0;
    for (k = fg_jdoc_first(doc, 0); k != FG_JNONE;
         k = fg_jdoc_next(doc, 0, k)) {
        if (routereq_is_core(doc, k)
            || fg_jdoc_type(doc, k + 1) == FG_JNULL) {
            continue;
        }
        if (need->n_params == FG_ROUTE_MAX_PARAMS) {
            need->params_overflow = 1;
            break;
        }
        need->params[need->n_params++] = routereq_str(doc, k);
    }
}
