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

/* Copies the names of the array member @key of @obj into @list. */
static size_t
routereq_list(const fg_jdoc_t *doc, int obj, const char *key,
              fg_route_str_t *list, int *given)
{
    int    arr = fg_jdoc_value(doc, obj, key), e;
    size_t n = 0;

    if (given != NULL) {
        *given = arr != FG_JNONE;
    }
    if (arr == FG_JNONE) {
        return 0;
    }
    for (e = fg_jdoc_first(doc, arr); e != FG_JNONE && n < FG_ROUTE_MAX_LIST;
         e = fg_jdoc_next(doc, arr, e)) {
        list[n++] = fg_routereq_str(doc, e);
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
fg_routereq_prefs(const fg_jdoc_t *doc, const fg_routereq_t *rr,
                  const char *model, const fg_catalog_t *catalog,
                  fg_preset_t key_preset, fg_route_prefs_t *prefs,
                  fg_err_t *err)
{
    char        name[257];
    int         e, node, p, f;
    size_t      i = 0;
    const char *which;

    fg_route_prefs_init(prefs);
    prefs->models[0] = fg_catalog_resolve(catalog, model, &prefs->pinned[0]);
    if (prefs->models[0] == NULL) {
        return fg_err_set(err, FG_E_MODEL_NOT_FOUND, "model",
                          "The model '%.128s' does not exist", model);
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

    /* The members validation found (a null one reads as absent). */
    p = rr->member[FG_ROUTEREQ_PROVIDER];
    p = fg_jdoc_type(doc, p) == FG_JOBJECT ? p : FG_JNONE;
    if (p != FG_JNONE) {
        prefs->n_order = routereq_list(doc, p, "order", prefs->order, NULL);
        prefs->n_only = routereq_list(doc, p, "only", prefs->only,
                                      &prefs->has_only);
        prefs->n_ignore = routereq_list(doc, p, "ignore", prefs->ignore,
                                        NULL);
        prefs->n_quantizations = routereq_list(doc, p, "quantizations",
                                               prefs->quantizations,
                                               &prefs->has_quantizations);
        node = fg_jdoc_value(doc, p, "allow_fallbacks");
        prefs->allow_fallbacks = fg_jdoc_type(doc, node) != FG_JFALSE;
        node = fg_jdoc_value(doc, p, "require_parameters");
        prefs->require_parameters = fg_jdoc_type(doc, node) == FG_JTRUE;
        node = fg_jdoc_value(doc, p, "sort");
        prefs->sort = node == FG_JNONE ? FG_SORT_NONE
                      : fg_jdoc_str_eq(doc, node, "price") ? FG_SORT_PRICE
                      : fg_jdoc_str_eq(doc, node, "throughput")
                        ? FG_SORT_THROUGHPUT : FG_SORT_LATENCY;
        node = fg_jdoc_value(doc, p, "max_price");
        prefs->max_price_prompt = routereq_micro(
            doc, fg_jdoc_value(doc, node, "prompt"));
        prefs->max_price_completion = routereq_micro(
            doc, fg_jdoc_value(doc, node, "completion"));
    }
    node = rr->member[FG_ROUTEREQ_PRESET];
    prefs->preset = fg_jdoc_type(doc, node) == FG_JSTRING
                    ? fg_route_preset_parse(doc->buf + doc->nodes[node].start
                                            + 1, doc->nodes[node].len - 2)
                    : key_preset;
    f = rr->member[FG_ROUTEREQ_FILTERS];
    if (fg_jdoc_type(doc, f) == FG_JOBJECT) {
        prefs->n_countries = routereq_list(doc, f, "countries",
                                           prefs->countries,
                                           &prefs->has_countries);
        prefs->max_carbon_intensity = routereq_real(
            doc, fg_jdoc_value(doc, f, "max_carbon_intensity"));
        prefs->max_input_cost = routereq_micro(
            doc, fg_jdoc_value(doc, f, "max_input_cost"));
        prefs->min_speed_tps = routereq_real(
            doc, fg_jdoc_value(doc, f, "min_speed_tps"));
    }
    return FG_OK;
}

/* Top-level key @k equals @name (@len bytes), compared as fg_jdoc_get()
 * compares. */
static int
routereq_key_is(const fg_jdoc_t *doc, int k, const char *name, size_t len)
{
    const fg_jnode_t *n = &doc->nodes[k];

    return n->has_escapes ? fg_jdoc_str_eq(doc, k, name)
                          : n->len - 2 == len
                            && memcmp(doc->buf + n->start + 1, name, len)
                               == 0;
}

#define ROUTEREQ_KEY_IS(doc, k, lit) \
    routereq_key_is(doc, k, lit, sizeof(lit) - 1)

/* Members every endpoint takes: not parameters require_parameters asks
 * about. The gateway's own fields never reach an endpoint ("reasoning"
 * is translated for each, or dropped where it has no form). */
static int
routereq_is_core(const fg_jdoc_t *doc, int k)
{
    return ROUTEREQ_KEY_IS(doc, k, "model")
           || ROUTEREQ_KEY_IS(doc, k, "messages")
           || ROUTEREQ_KEY_IS(doc, k, "stream")
           || ROUTEREQ_KEY_IS(doc, k, "stream_options")
           || ROUTEREQ_KEY_IS(doc, k, "models")
           || ROUTEREQ_KEY_IS(doc, k, "fallbacks")
           || ROUTEREQ_KEY_IS(doc, k, "route")
           || ROUTEREQ_KEY_IS(doc, k, "provider")
           || ROUTEREQ_KEY_IS(doc, k, "preset")
           || ROUTEREQ_KEY_IS(doc, k, "filters")
           || ROUTEREQ_KEY_IS(doc, k, "transforms")
           || ROUTEREQ_KEY_IS(doc, k, "plugins")
           || ROUTEREQ_KEY_IS(doc, k, "reasoning");
}

void
fg_routereq_need(const fg_jdoc_t *doc, int with_params, fg_route_need_t *need)
{
    int k, v, tools = FG_JNONE, functions = FG_JNONE, rf = FG_JNONE;

    need->reasoning_effort.s = NULL;
    need->reasoning_effort.len = 0;
    need->n_params = 0;
    need->params_overflow = 0;
    /* One pass over the top level (its keys are unique). */
    for (k = fg_jdoc_first(doc, 0); k != FG_JNONE;
         k = fg_jdoc_next(doc, 0, k)) {
        v = k + 1;
        if (fg_jdoc_type(doc, v) == FG_JNULL) {
            continue;
        }
        if (ROUTEREQ_KEY_IS(doc, k, "tools")) {
            tools = v;
        } else if (ROUTEREQ_KEY_IS(doc, k, "functions")) {
            functions = v;
        } else if (ROUTEREQ_KEY_IS(doc, k, "response_format")) {
            rf = v;
        } else if (ROUTEREQ_KEY_IS(doc, k, "reasoning_effort")
                   && fg_jdoc_type(doc, v) == FG_JSTRING) {
            need->reasoning_effort = fg_routereq_str(doc, v);
        }
        if (!with_params || routereq_is_core(doc, k)) {
            continue;
        }
        if (need->n_params == FG_ROUTE_MAX_PARAMS) {
            need->params_overflow = 1;
        } else {
            need->params[need->n_params++] = fg_routereq_str(doc, k);
        }
    }
    if (tools == FG_JNONE) {
        tools = functions;
    }
    need->uses_tools = fg_jdoc_type(doc, tools) == FG_JARRAY
                       && doc->nodes[tools].count > 0;
    need->uses_json_schema = fg_jdoc_str_eq(doc, fg_jdoc_value(doc, rf, "type"),
                                            "json_schema");
}
