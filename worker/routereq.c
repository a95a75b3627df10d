/*
 * routereq.c: the request's routing fields, checked and read.
 *
 * The shapes (docs/routing.md, "What the request can say"):
 *   "models" | "fallbacks": [model id, ...]   at most
 *                                  FG_ROUTE_MAX_MODELS - 1, one of the two
 *   "route": "fallback"
 *   "provider": {"order", "only", "ignore", "quantizations": [name, ...],
 *                "allow_fallbacks", "require_parameters": bool,
 *                "sort": "price" | "throughput" | "latency",
 *                "max_price": {"prompt", "completion": credits per
 *                              million tokens}}
 *   "preset": "balanced" | "speed" | "price" | "quality" | "environment"
 *   "filters": {"countries": [ISO code, ...], "max_carbon_intensity",
 *               "max_input_cost", "min_speed_tps": number >= 0}
 *   "transforms": ["middle-out"]          at most FG_ROUTEREQ_LIST_MAX
 *   "plugins": [{"id": "context-compression" | "response-healing",
 *                "enabled": bool}, ...]   at most FG_ROUTEREQ_LIST_MAX
 *   "reasoning": {"effort": "none" .. "xhigh", "max_tokens": integer,
 *                 "exclude", "enabled": bool}
 * null is absent, as everywhere in the request. Prices are credits, the
 * unit of fluxgate-admin's --balance; the router compares micro-credits.
 *
 * "reasoning" never filters endpoints: upstream_body.c translates it for
 * each one. Only what cannot mean anything is refused here: an effort and
 * a budget at once, the object beside a top-level reasoning_effort (which
 * would the provider get?), and a budget that leaves no room for the
 * answer within the token limit the request names.
 */

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/route/router.h"
#include "worker/routereq.h"

/* A price above this many credits per million tokens is no limit. */
#define ROUTEREQ_PRICE_MAX 1e9

static const char *const routereq_fields[FG_ROUTEREQ_FIELDS] = {
    "models", "fallbacks", "route", "provider", "preset", "filters",
    "transforms", "plugins", "reasoning"
};

static const char *const routereq_efforts[FG_ROUTEREQ_EFFORTS] = {
    "none", "minimal", "low", "medium", "high", "xhigh"
};

/* The plugins the gateway offers, in the order of their bits. */
static const char *const routereq_plugins_offered[] = {
    "context-compression", "response-healing"
};

static const char *const routereq_sorts[] = {
    "price", "throughput", "latency"
};

/* A name the router may borrow as it is in the body. */
static int
routereq_plain(const fg_jdoc_t *doc, int s)
{
    const char *p;
    size_t      len, i;

    if (fg_jdoc_type(doc, s) != FG_JSTRING) {
        return 0;
    }
    p = doc->buf + doc->nodes[s].start + 1;
    len = doc->nodes[s].len - 2;
    if (len < 1 || len > FG_ROUTEREQ_NAME_MAX) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        char c = p[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':'
              || c == '/' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

static const char *
routereq_type(const fg_jdoc_t *doc, int node)
{
    switch (fg_jdoc_type(doc, node)) {
    case FG_JOBJECT: return "an object";
    case FG_JARRAY:  return "an array";
    case FG_JSTRING: return "a string";
    case FG_JINT:
    case FG_JREAL:   return "a number";
    case FG_JTRUE:
    case FG_JFALSE:  return "a boolean";
    default:         return "null";
    }
}

/* An array of at most @max plain names at @node, named @path. */
static int
routereq_names(const fg_jdoc_t *doc, int node, const char *path, size_t max,
               fg_err_t *err)
{
    int    e;
    size_t i = 0;

    if (fg_jdoc_type(doc, node) != FG_JARRAY) {
        return fg_err_set(err, FG_E_INVALID_TYPE, path,
                          "%s must be an array of names, got %s.", path,
                          routereq_type(doc, node));
    }
    if (doc->nodes[node].count > max) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, path,
                          "%s may list at most %zu names, got %zu.", path,
                          max, (size_t) doc->nodes[node].count);
    }
    for (e = fg_jdoc_first(doc, node); e != FG_JNONE;
         e = fg_jdoc_next(doc, node, e), i++) {
        if (!routereq_plain(doc, e)) {
            char at[FG_ERR_PARAM_MAX];

            snprintf(at, sizeof(at), "%s[%zu]", path, i);
            return fg_err_set(err, FG_E_INVALID_VALUE, at,
                              "%s must be a name of 1 to %d letters, digits "
                              "and . _ : / -", at, FG_ROUTEREQ_NAME_MAX);
        }
    }
    return FG_OK;
}

/* A number >= 0 (at most @max) at @node, named @path. */
static int
routereq_number(const fg_jdoc_t *doc, int node, const char *path, double max,
                double *out, fg_err_t *err)
{
    double x;

    switch (fg_jdoc_type(doc, node)) {
    case FG_JINT:
        x = (double) doc->nodes[node].num.i;
        break;
    case FG_JREAL:
        x = doc->nodes[node].num.d;
        break;
    default:
        return fg_err_set(err, FG_E_INVALID_TYPE, path,
                          "%s must be a number, got %s.", path,
                          routereq_type(doc, node));
    }
    if (!(x >= 0) || x > max) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, path,
                          "%s must be between 0 and %.0f.", path, max);
    }
    if (out != NULL) {
        *out = x;
    }
    return FG_OK;
}

static int
routereq_bool(const fg_jdoc_t *doc, int node, const char *path,
              fg_err_t *err)
{
    fg_jtype_t t = fg_jdoc_type(doc, node);

    if (t != FG_JTRUE && t != FG_JFALSE) {
        return fg_err_set(err, FG_E_INVALID_TYPE, path,
                          "%s must be a boolean, got %s.", path,
                          routereq_type(doc, node));
    }
    return FG_OK;
}

/* String node @s for an error message: at most FG_ROUTEREQ_NAME_MAX
 * bytes, anything but printable ASCII (and " \\) replaced by '?', so the
 * message is always valid JSON and safe in a log line. */
static void
routereq_quote(const fg_jdoc_t *doc, int s,
               char out[FG_ROUTEREQ_NAME_MAX + 1])
{
    size_t i;

    (void) fg_jdoc_str_copy(doc, s, out, FG_ROUTEREQ_NAME_MAX + 1);
    for (i = 0; out[i] != '\0'; i++) {
        if ((unsigned char) out[i] < 0x20 || out[i] == '"'
            || out[i] == '\\' || (unsigned char) out[i] >= 0x7f) {
            out[i] = '?';
        }
    }
}

/* The key @k of an object at @prefix, refused as unknown. */
static int
routereq_unknown(const fg_jdoc_t *doc, int k, const char *prefix,
                 const char *known, fg_err_t *err)
{
    char name[FG_ROUTEREQ_NAME_MAX + 1], path[FG_ERR_PARAM_MAX];

    routereq_quote(doc, k, name);
    snprintf(path, sizeof(path), "%s.%s", prefix, name);
    return fg_err_set(err, FG_E_INVALID_VALUE, path,
                      "Unknown parameter '%s': %s takes %s.", path, prefix,
                      known);
}

static int
routereq_max_price(const fg_jdoc_t *doc, int obj, fg_err_t *err)
{
    int k;

    if (fg_jdoc_type(doc, obj) != FG_JOBJECT) {
        return fg_err_set(err, FG_E_INVALID_TYPE, "provider.max_price",
                          "provider.max_price must be an object, got %s.",
                          routereq_type(doc, obj));
    }
    for (k = fg_jdoc_first(doc, obj); k != FG_JNONE;
         k = fg_jdoc_next(doc, obj, k)) {
        if (fg_jdoc_type(doc, k + 1) == FG_JNULL) {
            continue;
        }
        if (fg_jdoc_str_eq(doc, k, "prompt")) {
            if (routereq_number(doc, k + 1, "provider.max_price.prompt",
                                ROUTEREQ_PRICE_MAX, NULL, err) != FG_OK) {
                return FG_ERR;
            }
        } else if (fg_jdoc_str_eq(doc, k, "completion")) {
            if (routereq_number(doc, k + 1, "provider.max_price.completion",
                                ROUTEREQ_PRICE_MAX, NULL, err) != FG_OK) {
                return FG_ERR;
            }
        } else {
            return routereq_unknown(doc, k, "provider.max_price",
                                    "prompt and completion", err);
        }
    }
    return FG_OK;
}

static int
routereq_provider(const fg_jdoc_t *doc, int obj, fg_err_t *err)
{
    static const char known[] = "order, only, ignore, allow_fallbacks, "
                                "sort, max_price, require_parameters and "
                                "quantizations";
    int k, v;

    if (fg_jdoc_type(doc, obj) != FG_JOBJECT) {
        return fg_err_set(err, FG_E_INVALID_TYPE, "provider",
                          "provider must be an object, got %s.",
                          routereq_type(doc, obj));
    }
    for (k = fg_jdoc_first(doc, obj); k != FG_JNONE;
         k = fg_jdoc_next(doc, obj, k)) {
        v = k + 1;
        if (fg_jdoc_type(doc, v) == FG_JNULL) {
            if (!fg_jdoc_str_eq(doc, k, "order")
                && !fg_jdoc_str_eq(doc, k, "only")
                && !fg_jdoc_str_eq(doc, k, "ignore")
                && !fg_jdoc_str_eq(doc, k, "quantizations")
                && !fg_jdoc_str_eq(doc, k, "allow_fallbacks")
                && !fg_jdoc_str_eq(doc, k, "require_parameters")
                && !fg_jdoc_str_eq(doc, k, "sort")
                && !fg_jdoc_str_eq(doc, k, "max_price")) {
                return routereq_unknown(doc, k, "provider", known, err);
            }
            continue;
        }
        if (fg_jdoc_str_eq(doc, k, "order")) {
            if (routereq_names(doc, v, "provider.order", FG_ROUTE_MAX_LIST,
                               err) != FG_OK) {
                return FG_ERR;
            }
        } else if (fg_jdoc_str_eq(doc, k, "only")) {
            if (routereq_names(doc, v, "provider.only", FG_ROUTE_MAX_LIST,
                               err) != FG_OK) {
                return FG_ERR;
            }
        } else if (fg_jdoc_str_eq(doc, k, "ignore")) {
            if (routereq_names(doc, v, "provider.ignore", FG_ROUTE_MAX_LIST,
                               err) != FG_OK) {
                return FG_ERR;
            }
        } else if (fg_jdoc_str_eq(doc, k, "quantizations")) {
            if (routereq_names(doc, v, "provider.quantizations",
                               FG_ROUTE_MAX_LIST, err) != FG_OK) {
                return FG_ERR;
            }
        } else if (fg_jdoc_str_eq(doc, k, "allow_fallbacks")) {
            if (routereq_bool(doc, v, "provider.allow_fallbacks", err)
                != FG_OK) {
                return FG_ERR;
            }
        } else if (fg_jdoc_str_eq(doc, k, "require_parameters")) {
            if (routereq_bool(doc, v, "provider.require_parameters", err)
                != FG_OK) {
                return FG_ERR;
            }
        } else if (fg_jdoc_str_eq(doc, k, "sort")) {
            size_t i;

            for (i = 0; i < 3; i++) {
                if (fg_jdoc_str_eq(doc, v, routereq_sorts[i])) {
                    break;
                }
            }
            if (i == 3) {
                return fg_err_set(err, FG_E_INVALID_VALUE, "provider.sort",
                                  "provider.sort must be one of 'price', "
                                  "'throughput' or 'latency'.");
            }
        } else if (fg_jdoc_str_eq(doc, k, "max_price")) {
            if (routereq_max_price(doc, v, err) != FG_OK) {
                return FG_ERR;
            }
        } else {
            return routereq_unknown(doc, k, "provider", known, err);
        }
    }
    return FG_OK;
}

/* An ISO 3166 alpha-2 code in capitals, or "WORLD". */
static int
routereq_country(const fg_jdoc_t *doc, int s)
{
    fg_route_str_t c = fg_routereq_str(doc, s);

    if (c.len == 5 && memcmp(c.s, "WORLD", 5) == 0) {
        return 1;
    }
    return c.len == 2 && c.s[0] >= 'A' && c.s[0] <= 'Z' && c.s[1] >= 'A'
           && c.s[1] <= 'Z';
}

static int
routereq_filters(const fg_jdoc_t *doc, int obj, fg_err_t *err)
{
    static const char known[] = "countries, max_carbon_intensity, "
                                "max_input_cost and min_speed_tps";
    int    k, v, e;
    size_t i;

    if (fg_jdoc_type(doc, obj) != FG_JOBJECT) {
        return fg_err_set(err, FG_E_INVALID_TYPE, "filters",
                          "filters must be an object, got %s.",
                          routereq_type(doc, obj));
    }
    for (k = fg_jdoc_first(doc, obj); k != FG_JNONE;
         k = fg_jdoc_next(doc, obj, k)) {
        v = k + 1;
        if (fg_jdoc_str_eq(doc, k, "countries")) {
            if (fg_jdoc_type(doc, v) == FG_JNULL) {
                continue;
            }
            if (routereq_names(doc, v, "filters.countries",
                               FG_ROUTE_MAX_LIST, err) != FG_OK) {
                return FG_ERR;
            }
            i = 0;
            for (e = fg_jdoc_first(doc, v); e != FG_JNONE;
                 e = fg_jdoc_next(doc, v, e), i++) {
                if (!routereq_country(doc, e)) {
                    char at[FG_ERR_PARAM_MAX];

                    snprintf(at, sizeof(at), "filters.countries[%zu]", i);
                    return fg_err_set(err, FG_E_INVALID_VALUE, at,
                                      "%s must be an ISO 3166 alpha-2 "
                                      "country code in capitals, such as "
                                      "'SE'.", at);
                }
            }
        } else if (fg_jdoc_str_eq(doc, k, "max_carbon_intensity")
                   || fg_jdoc_str_eq(doc, k, "max_input_cost")
                   || fg_jdoc_str_eq(doc, k, "min_speed_tps")) {
            char path[FG_ERR_PARAM_MAX] = "filters.";

            if (fg_jdoc_type(doc, v) == FG_JNULL) {
                continue;
            }
            (void) fg_jdoc_str_copy(doc, k, path + 8, sizeof(path) - 8);
            if (routereq_number(doc, v, path, ROUTEREQ_PRICE_MAX, NULL, err)
                != FG_OK) {
                return FG_ERR;
            }
        } else {
            return routereq_unknown(doc, k, "filters", known, err);
        }
    }
    return FG_OK;
}

/* An array of at most FG_ROUTEREQ_LIST_MAX entries at @arr, named
 * @path, of @what ("strings") as its message says. */
static int
routereq_short_array(const fg_jdoc_t *doc, int arr, const char *path,
                     const char *what, fg_err_t *err)
{
    if (fg_jdoc_type(doc, arr) != FG_JARRAY) {
        return fg_err_set(err, FG_E_INVALID_TYPE, path,
                          "%s must be an array of %s, got %s.", path, what,
                          routereq_type(doc, arr));
    }
    if (doc->nodes[arr].count > FG_ROUTEREQ_LIST_MAX) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, path,
                          "%s may list at most %d entries, got %zu.", path,
                          FG_ROUTEREQ_LIST_MAX,
                          (size_t) doc->nodes[arr].count);
    }
    return FG_OK;
}

/* "transforms": strings, each "middle-out"; [] turns compression off. */
static int
routereq_transforms(const fg_jdoc_t *doc, int arr, fg_transformreq_t *xf,
                    fg_err_t *err)
{
    char   at[FG_ERR_PARAM_MAX], got[FG_ROUTEREQ_NAME_MAX + 1];
    int    e;
    size_t i = 0;

    if (routereq_short_array(doc, arr, "transforms", "strings", err)
        != FG_OK) {
        return FG_ERR;
    }
    xf->compress = 0;
    for (e = fg_jdoc_first(doc, arr); e != FG_JNONE;
         e = fg_jdoc_next(doc, arr, e), i++) {
        snprintf(at, sizeof(at), "transforms[%zu]", i);
        if (fg_jdoc_type(doc, e) != FG_JSTRING) {
            return fg_err_set(err, FG_E_INVALID_TYPE, at,
                              "%s must be a string, got %s.", at,
                              routereq_type(doc, e));
        }
        if (!fg_jdoc_str_eq(doc, e, "middle-out")) {
            routereq_quote(doc, e, got);
            return fg_err_set(err, FG_E_INVALID_VALUE, at,
                              "%s must be 'middle-out', the one transform "
                              "the gateway offers, got '%s'.", at, got);
        }
        xf->compress = 1;
    }
    return FG_OK;
}

/*
 * Entry @n of "plugins": {"id", "enabled"?}. Sets the bit of the plugin
 * in *@seen (refusing a second entry of one id) and what it turns on or
 * off in @xf.
 */
static int
routereq_plugin(const fg_jdoc_t *doc, int obj, size_t n, unsigned *seen,
                fg_transformreq_t *xf, fg_err_t *err)
{
    char   at[32], path[48], got[FG_ROUTEREQ_NAME_MAX + 1];
    int    k, id = FG_JNONE, on = 1;
    size_t i;

    snprintf(at, sizeof(at), "plugins[%zu]", n);
    if (fg_jdoc_type(doc, obj) != FG_JOBJECT) {
        return fg_err_set(err, FG_E_INVALID_TYPE, at,
                          "%s must be an object {\"id\": ...}, got %s.", at,
                          routereq_type(doc, obj));
    }
    for (k = fg_jdoc_first(doc, obj); k != FG_JNONE;
         k = fg_jdoc_next(doc, obj, k)) {
        if (fg_jdoc_str_eq(doc, k, "id")) {
            id = k + 1;
        } else if (fg_jdoc_str_eq(doc, k, "enabled")) {
            if (fg_jdoc_type(doc, k + 1) == FG_JNULL) {
                continue;
            }
            snprintf(path, sizeof(path), "%s.enabled", at);
            if (routereq_bool(doc, k + 1, path, err) != FG_OK) {
                return FG_ERR;
            }
            on = fg_jdoc_type(doc, k + 1) == FG_JTRUE;
        } else {
            return routereq_unknown(doc, k, at, "id and enabled", err);
        }
    }
    snprintf(path, sizeof(path), "%s.id", at);
    if (id == FG_JNONE || fg_jdoc_type(doc, id) == FG_JNULL) {
        return fg_err_set(err, FG_E_REQUIRED_FIELD, path,
                          "Missing required parameter: '%s'.", path);
    }
    if (fg_jdoc_type(doc, id) != FG_JSTRING) {
        return fg_err_set(err, FG_E_INVALID_TYPE, path,
                          "%s must be a string, got %s.", path,
                          routereq_type(doc, id));
    }
    routereq_quote(doc, id, got);
    if (fg_jdoc_str_eq(doc, id, "web")
        || fg_jdoc_str_eq(doc, id, "file-parser")) {
        return fg_err_set(err, FG_E_INVALID_VALUE, path,
                          "This gateway does not offer the plugin '%s'; "
                          "it offers context-compression and "
                          "response-healing.", got);
    }
    for (i = 0; i < 2; i++) {
        if (fg_jdoc_str_eq(doc, id, routereq_plugins_offered[i])) {
            break;
        }
    }
    if (i == 2) {
        return fg_err_set(err, FG_E_INVALID_VALUE, path,
                          "Unknown plugin '%s' in %s: the gateway offers "
                          "context-compression and response-healing.", got,
                          path);
    }
    if (*seen & (1u << i)) {
        return fg_err_set(err, FG_E_INVALID_VALUE, path,
                          "The plugin '%s' is listed twice; list each "
                          "plugin once.", got);
    }
    *seen |= 1u << i;
    if (i == 0) {
        xf->compress = on;
    } else {
        xf->heal = on;
    }
    return FG_OK;
}

/* "plugins": objects, each plugin at most once. After "transforms": the
 * context-compression plugin, when listed, decides over it. */
static int
routereq_plugins(const fg_jdoc_t *doc, int arr, fg_transformreq_t *xf,
                 fg_err_t *err)
{
    int      e;
    size_t   i = 0;
    unsigned seen = 0;

    if (routereq_short_array(doc, arr, "plugins", "objects", err) != FG_OK) {
        return FG_ERR;
    }
    for (e = fg_jdoc_first(doc, arr); e != FG_JNONE;
         e = fg_jdoc_next(doc, arr, e), i++) {
        if (routereq_plugin(doc, e, i, &seen, xf, err) != FG_OK) {
            return FG_ERR;
        }
    }
    return FG_OK;
}

/* A budget below each token limit the request names (the budget is
 * spent within it, and the answer needs room too). */
static int
routereq_budget_fits(const fg_jdoc_t *doc, int64_t budget, fg_err_t *err)
{
    static const char *const limits[] = {
        "max_tokens", "max_completion_tokens"
    };
    int    node;
    size_t i;

    for (i = 0; i < 2; i++) {
        node = fg_jdoc_value(doc, 0, limits[i]);
        if (fg_jdoc_type(doc, node) == FG_JINT
            && budget >= doc->nodes[node].num.i) {
            return fg_err_set(err, FG_E_OUT_OF_RANGE,
                              "reasoning.max_tokens",
                              "reasoning.max_tokens must be below %s "
                              "(%lld): the reasoning budget is spent within "
                              "the token limit, got %lld.", limits[i],
                              (long long) doc->nodes[node].num.i,
                              (long long) budget);
        }
    }
    return FG_OK;
}

/* "reasoning": {"effort", "max_tokens", "exclude", "enabled"}. */
static int
routereq_reasoning(const fg_jdoc_t *doc, int obj, fg_transformreq_t *xf,
                   fg_err_t *err)
{
    static const char *const members[] = {
        "effort", "max_tokens", "exclude", "enabled"
    };
    char    got[FG_ROUTEREQ_NAME_MAX + 1], path[32];
    int     k, v, m, effort = -1, enabled = 1;
    int64_t budget = 0;

    if (fg_jdoc_type(doc, obj) != FG_JOBJECT) {
        return fg_err_set(err, FG_E_INVALID_TYPE, "reasoning",
                          "reasoning must be an object, got %s.",
                          routereq_type(doc, obj));
    }
    for (k = fg_jdoc_first(doc, obj); k != FG_JNONE;
         k = fg_jdoc_next(doc, obj, k)) {
        v = k + 1;
        for (m = 0; m < 4 && !fg_jdoc_str_eq(doc, k, members[m]); m++) {
        }
        if (m == 4) {
            return routereq_unknown(doc, k, "reasoning",
                                    "effort, max_tokens, exclude and "
                                    "enabled", err);
        }
        if (fg_jdoc_type(doc, v) == FG_JNULL) {
            continue;
        }
        switch (m) {
        case 0:
            if (fg_jdoc_type(doc, v) != FG_JSTRING) {
                return fg_err_set(err, FG_E_INVALID_TYPE,
                                  "reasoning.effort",
                                  "reasoning.effort must be a string, got "
                                  "%s.", routereq_type(doc, v));
            }
            for (effort = 0; effort < FG_ROUTEREQ_EFFORTS; effort++) {
                if (fg_jdoc_str_eq(doc, v, routereq_efforts[effort])) {
                    break;
                }
            }
            if (effort == FG_ROUTEREQ_EFFORTS) {
                routereq_quote(doc, v, got);
                return fg_err_set(err, FG_E_INVALID_VALUE,
                                  "reasoning.effort",
                                  "reasoning.effort must be one of none, "
                                  "minimal, low, medium, high or xhigh, got "
                                  "'%s'.", got);
            }
            break;
        case 1:
            if (fg_jdoc_type(doc, v) != FG_JINT) {
                return fg_err_set(err, FG_E_INVALID_TYPE,
                                  "reasoning.max_tokens",
                                  "reasoning.max_tokens must be an integer, "
                                  "got %s.", routereq_type(doc, v));
            }
            budget = doc->nodes[v].num.i;
            if (budget < 1 || budget > FG_ROUTEREQ_REASONING_MAX_TOKENS) {
                return fg_err_set(err, FG_E_OUT_OF_RANGE,
                                  "reasoning.max_tokens",
                                  "reasoning.max_tokens must be between 1 "
                                  "and %lld, got %lld.",
                                  FG_ROUTEREQ_REASONING_MAX_TOKENS,
                                  (long long) budget);
            }
            break;
        default:        /* exclude, enabled */
            snprintf(path, sizeof(path), "reasoning.%s", members[m]);
            if (routereq_bool(doc, v, path, err) != FG_OK) {
                return FG_ERR;
            }
            if (m == 2) {
                xf->reasoning_exclude = fg_jdoc_type(doc, v) == FG_JTRUE;
            } else {
                enabled = fg_jdoc_type(doc, v) == FG_JTRUE;
            }
        }
    }
    if (effort >= 0 && budget > 0) {
        return fg_err_set(err, FG_E_INVALID_VALUE, "reasoning",
                          "Give reasoning.effort or reasoning.max_tokens, "
                          "not both.");
    }
    if (fg_jdoc_value(doc, 0, "reasoning_effort") != FG_JNONE) {
        return fg_err_set(err, FG_E_INVALID_VALUE, "reasoning",
                          "Give reasoning or reasoning_effort, not both.");
    }
    if (budget > 0 && routereq_budget_fits(doc, budget, err) != FG_OK) {
        return FG_ERR;
    }
    xf->has_reasoning = 1;
    xf->reasoning_enabled = enabled && effort != 0;
    if (effort >= 0) {
        xf->reasoning_effort.s = routereq_efforts[effort];
        xf->reasoning_effort.len = strlen(routereq_efforts[effort]);
    }
    xf->reasoning_max_tokens = budget;
    return FG_OK;
}

/* The FG_ROUTEREQ_* index of the field top-level key @k names, or -1:
 * compared as fg_jdoc_get() compares (raw unless the key has escapes). */
static int
routereq_field_of(const fg_jdoc_t *doc, int k)
{
    static const size_t lens[FG_ROUTEREQ_FIELDS] = {
        6, 9, 5, 8, 6, 7, 10, 7, 9
    };
    const fg_jnode_t   *n = &doc->nodes[k];
    const char         *p = doc->buf + n->start + 1;
    size_t              len = n->len - 2;
    int                 i;

    for (i = 0; i < FG_ROUTEREQ_FIELDS; i++) {
        if (n->has_escapes ? fg_jdoc_str_eq(doc, k, routereq_fields[i])
                           : len == lens[i]
                             && memcmp(p, routereq_fields[i], len) == 0) {
            return i;
        }
    }
    return -1;
}

fg_route_str_t
fg_routereq_str(const fg_jdoc_t *doc, int s)
{
    fg_route_str_t out;

    out.s = doc->buf + doc->nodes[s].start + 1;
    out.len = doc->nodes[s].len - 2;
    return out;
}

int
fg_routereq_effort_rank(const char *s, size_t len)
{
    int i;

    for (i = 0; i < FG_ROUTEREQ_EFFORTS; i++) {
        if (strlen(routereq_efforts[i]) == len
            && memcmp(routereq_efforts[i], s, len) == 0) {
            return i;
        }
    }
    return -1;
}

const char *
fg_routereq_effort_name(int rank)
{
    return routereq_efforts[rank];
}

int
fg_routereq_validate(const fg_jdoc_t *doc, fg_routereq_t *out,
                     fg_transformreq_t *xf, fg_err_t *err)
{
    int    i, k, node, e, any = 0;
    size_t n;

    memset(xf, 0, sizeof(*xf));
    xf->compress = -1;
    xf->heal = -1;
    /* One pass over the top level: most requests name none of them. */
    for (i = 0; i < FG_ROUTEREQ_FIELDS; i++) {
        out->member[i] = FG_JNONE;
    }
    out->fallbacks = FG_JNONE;
    for (k = fg_jdoc_first(doc, 0); k != FG_JNONE;
         k = fg_jdoc_next(doc, 0, k)) {
        i = routereq_field_of(doc, k);
        if (i >= 0) {
            out->member[i] = k + 1;
            any = 1;
        }
    }
    if (!any) {
        return FG_OK;
    }
    for (i = FG_ROUTEREQ_MODELS; i <= FG_ROUTEREQ_FALLBACKS; i++) {
        char at[FG_ERR_PARAM_MAX];

        node = fg_jdoc_value(doc, 0, routereq_fields[i]);
        if (node == FG_JNONE) {
            continue;
        }
        if (out->fallbacks != FG_JNONE) {
            return fg_err_set(err, FG_E_INVALID_VALUE, "fallbacks",
                              "Give the fallback models as 'models' or as "
                              "'fallbacks', not both.");
        }
        if (fg_jdoc_type(doc, node) != FG_JARRAY) {
            return fg_err_set(err, FG_E_INVALID_TYPE, routereq_fields[i],
                              "%s must be an array of model ids, got %s.",
                              routereq_fields[i], routereq_type(doc, node));
        }
        if (doc->nodes[node].count > FG_ROUTE_MAX_MODELS - 1) {
            return fg_err_set(err, FG_E_OUT_OF_RANGE, routereq_fields[i],
                              "%s may name at most %d fallback models.",
                              routereq_fields[i], FG_ROUTE_MAX_MODELS - 1);
        }
        n = 0;
        for (e = fg_jdoc_first(doc, node); e != FG_JNONE;
             e = fg_jdoc_next(doc, node, e), n++) {
            if (fg_jdoc_type(doc, e) != FG_JSTRING
                || fg_jdoc_str_len(doc, e) == 0
                || fg_jdoc_str_len(doc, e) > 256) {
                snprintf(at, sizeof(at), "%s[%zu]", routereq_fields[i], n);
                return fg_err_set(err, FG_E_INVALID_VALUE, at,
                                  "%s must be a model id (a string of 1 to "
                                  "256 bytes).", at);
            }
        }
        out->fallbacks = node;
    }
    node = fg_jdoc_value(doc, 0, "route");
    if (node != FG_JNONE && !fg_jdoc_str_eq(doc, node, "fallback")) {
        return fg_err_set(err, FG_E_INVALID_VALUE, "route",
                          "route must be 'fallback' (the models are tried "
                          "in order).");
    }
    node = fg_jdoc_value(doc, 0, "provider");
    if (node != FG_JNONE && routereq_provider(doc, node, err) != FG_OK) {
        return FG_ERR;
    }
    node = fg_jdoc_value(doc, 0, "preset");
    if (node != FG_JNONE
        && (fg_jdoc_type(doc, node) != FG_JSTRING
            || fg_route_preset_parse(doc->buf + doc->nodes[node].start + 1,
                                     doc->nodes[node].len - 2)
               == FG_PRESET_UNSET)) {
        return fg_err_set(err, FG_E_INVALID_VALUE, "preset",
                          "preset must be one of 'balanced', 'speed', "
                          "'price', 'quality' or 'environment'.");
    }
    node = fg_jdoc_value(doc, 0, "filters");
    if (node != FG_JNONE && routereq_filters(doc, node, err) != FG_OK) {
        return FG_ERR;
    }
    /* Found by the pass above; null is absent (but cut all the same). */
    node = out->member[FG_ROUTEREQ_TRANSFORMS];
    if (node != FG_JNONE && fg_jdoc_type(doc, node) != FG_JNULL
        && routereq_transforms(doc, node, xf, err) != FG_OK) {
        return FG_ERR;
    }
    node = out->member[FG_ROUTEREQ_PLUGINS];
    if (node != FG_JNONE && fg_jdoc_type(doc, node) != FG_JNULL
        && routereq_plugins(doc, node, xf, err) != FG_OK) {
        return FG_ERR;
    }
    node = out->member[FG_ROUTEREQ_REASONING];
    if (node != FG_JNONE && fg_jdoc_type(doc, node) != FG_JNULL
        && routereq_reasoning(doc, node, xf, err) != FG_OK) {
        return FG_ERR;
    }
    return FG_OK;
}
