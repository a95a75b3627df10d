/*
 * impact_data.c: loads and checks the impact tables, and turns a request's
 * model, provider and usage into the pure model's input.
 *
 * The tables are parsed as strictly as the catalogs (jansson's "!"
 * unpack): a misspelt "wue_site_l_per_kwh" must not silently become a
 * default, because a wrong figure here is a wrong claim made to every
 * tenant on every response. For the same reason nothing is guessed: a
 * model entry gives its parameters, or a size class that says openly that
 * they are unknown (and marks every figure computed from it estimated),
 * and a catalog model or provider without an entry refuses the load.
 *
 * Every file must name its sources and their licences ("sources"); the
 * loader checks that they are there, not what they say.
 */

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/alloc.h"
#include "common/base/idindex.h"
#include "common/accounts/impact_data.h"

#define IMPACT_DATA_MAX_PARAMS_B  100000.0   /* 100 T: a typo, not a model */

struct fg_impact_data_s {
    fg_impact_country_t  *countries;
    size_t                country_count;
    fg_impact_provider_t *providers;
    size_t                provider_count;
    fg_impact_model_t    *models;
    size_t                model_count;
    fg_idindex_t          countries_by_code;
    fg_idindex_t          providers_by_id;
    fg_idindex_t          models_by_id;      /* ids and aliases */
};

/* Size classes: documented parameter ranges for a model nobody has
 * published figures for (docs/impact.md). The first three are dense; the
 * last is MoE-shaped, like today's frontier models (EcoLogits' rule for
 * closed MoE: 10-30 % of the weights active; 20 % here). */
static const struct {
    const char            *name;
    fg_impact_size_class_t cls;
    fg_impact_range_t      active_b;
    fg_impact_range_t      total_b;
} impact_size_classes[] = {
    { "small", FG_IMPACT_SIZE_SMALL, { 1, 10 }, { 1, 10 } },
    { "medium", FG_IMPACT_SIZE_MEDIUM, { 10, 40 }, { 10, 40 } },
    { "large", FG_IMPACT_SIZE_LARGE, { 40, 150 }, { 40, 150 } },
    { "xlarge", FG_IMPACT_SIZE_XLARGE, { 30, 140 }, { 150, 700 } },
};

static json_t *impact_data_open(const char *dir, const char *file,
                                const char *key, char *path,
                                size_t path_size, fg_err_t *err);
static int impact_data_range(json_t *v, double lowest, double highest,
                             fg_impact_range_t *r);
static int impact_data_country_code_ok(const char *code);
static int impact_data_load_countries(fg_impact_data_t *d, const char *dir,
                                      fg_err_t *err);
static int impact_data_load_providers(fg_impact_data_t *d, const char *dir,
                                      fg_err_t *err);
static int impact_data_load_models(fg_impact_data_t *d, const char *dir,
                                   fg_err_t *err);
static int impact_data_load_model(fg_impact_data_t *d, const char *path,
                                  size_t i, json_t *item, fg_err_t *err);

/*
 * Reads @dir/@file, checks the envelope {"description"?, "sources",
 * @key} and the sources, and returns a new reference to the @key array.
 * @path receives the file's path, for the caller's messages.
 */
static json_t *
impact_data_open(const char *dir, const char *file, const char *key,
                 char *path, size_t path_size, fg_err_t *err)
{
    json_error_t jerr;
    json_t      *root, *sources, *arr, *src;
    const char  *description = NULL, *name, *url, *licence, *used_for;
    size_t       i;

    snprintf(path, path_size, "%s/%s", dir, file);
    root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        fg_err_set(err, FG_E_INVALID_JSON, NULL, "%s:%d:%d: %s", path,
                   jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    if (json_unpack_ex(root, &jerr, 0, "{s?s, s:o, s:o !}",
                       "description", &description, "sources", &sources,
                       key, &arr) != 0) {
        fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                   "%s: expected {\"description\"?, \"sources\": [...], "
                   "\"%s\": [...]}: %s", path, key, jerr.text);
        goto fail;
    }
    if (!json_is_array(sources) || json_array_size(sources) == 0) {
        fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                   "%s: \"sources\" must be a non-empty array naming where "
                   "the figures come from and their licences", path);
        goto fail;
    }
    json_array_foreach(sources, i, src) {
        used_for = NULL;
        if (json_unpack_ex(src, &jerr, 0, "{s:s, s:s, s:s, s?s !}",
                           "name", &name, "url", &url, "licence", &licence,
                           "used_for", &used_for) != 0) {
            fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                       "%s: sources[%zu]: %s (each source needs \"name\", "
                       "\"url\" and \"licence\")", path, i, jerr.text);
            goto fail;
        }
        if (name[0] == '\0' || licence[0] == '\0') {
            fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                       "%s: sources[%zu]: empty name or licence", path, i);
            goto fail;
        }
    }
    if (!json_is_array(arr)) {
        fg_err_set(err, FG_E_INVALID_TYPE, NULL,
                   "%s: \"%s\" must be an array", path, key);
        goto fail;
    }
    json_incref(arr);
    json_decref(root);
    return arr;

fail:
    json_decref(root);
    return NULL;
}

/* A number, or [min, max]; both within [@lowest, @highest]. */
static int
impact_data_range(json_t *v, double lowest, double highest,
                  fg_impact_range_t *r)
{
    if (json_is_number(v)) {
        r->min = r->max = json_number_value(v);
    } else if (json_is_array(v) && json_array_size(v) == 2
               && json_is_number(json_array_get(v, 0))
               && json_is_number(json_array_get(v, 1))) {
        r->min = json_number_value(json_array_get(v, 0));
        r->max = json_number_value(json_array_get(v, 1));
    } else {
        return FG_ERR;
    }
    if (!(r->min >= lowest && r->min <= r->max && r->max <= highest)) {
        return FG_ERR;
    }
    return FG_OK;
}

static int
impact_data_country_code_ok(const char *code)
{
    return strcmp(code, "WORLD") == 0
           || (strlen(code) == 2 && code[0] >= 'A' && code[0] <= 'Z'
               && code[1] >= 'A' && code[1] <= 'Z');
}

static int
impact_data_load_countries(fg_impact_data_t *d, const char *dir,
                           fg_err_t *err)
{
    char         path[PATH_MAX];
    json_t      *arr, *item;
    json_error_t jerr;
    size_t       i;
    const char  *code, *iso3, *name, *note;
    double       ci, ci_em, ren, cfe, wue;

    arr = impact_data_open(dir, "countries.json", "countries", path,
                           sizeof(path), err);
    if (arr == NULL) {
        return FG_ERR;
    }
    d->countries = fg_xcalloc(json_array_size(arr) + 1,
                              sizeof(fg_impact_country_t));
    json_array_foreach(arr, i, item) {
        fg_impact_country_t *c = &d->countries[i];

        iso3 = NULL;
        note = NULL;
        ci_em = -1;
        cfe = -1;
        if (json_unpack_ex(item, &jerr, 0,
                           "{s:s, s?s, s:s, s:F, s?F, s:F, s?F, s:F, s?s !}",
                           "code", &code, "iso3", &iso3, "name", &name,
                           "ci_g_per_kwh", &ci, "ci_em_g_per_kwh", &ci_em,
                           "renewable_percent", &ren,
                           "carbon_free_percent", &cfe,
                           "wue_grid_l_per_kwh", &wue, "note", &note)
            != 0) {
            fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                       "%s: countries[%zu]: %s", path, i, jerr.text);
            goto fail;
        }
        if (!impact_data_country_code_ok(code)) {
            fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                       "%s: countries[%zu]: code \"%s\" is not ISO 3166 "
                       "alpha-2 (two capitals) or \"WORLD\"", path, i, code);
            goto fail;
        }
        if (!fg_idindex_add(&d->countries_by_code, code, i)) {
            fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                       "%s: countries[%zu]: duplicate code \"%s\"", path, i,
                       code);
            goto fail;
        }
        if (!(ci >= 0 && ci <= 2000) || !(ren >= 0 && ren <= 100)
            || !(wue >= 0 && wue <= 100)
            || !(ci_em == -1 || (ci_em >= 0 && ci_em <= 2000))
            || !(cfe == -1 || (cfe >= 0 && cfe <= 100))) {
            fg_err_set(err, FG_E_OUT_OF_RANGE, NULL,
                       "%s: countries[%zu] (\"%s\"): ci must be 0..2000 "
                       "g/kWh, percentages 0..100, wue_grid 0..100 L/kWh",
                       path, i, code);
            goto fail;
        }
        c->code = fg_xstrdup(code);
        c->name = fg_xstrdup(name);
        c->ci_g_per_kwh = ci;
        c->ci_em_g_per_kwh = ci_em;
        c->renewable_percent = ren;
        c->carbon_free_percent = cfe;
        c->wue_grid_l_per_kwh = wue;
        d->country_count = i + 1;
    }
    json_decref(arr);
    return FG_OK;

fail:
    json_decref(arr);
    return FG_ERR;
}

static int
impact_data_load_providers(fg_impact_data_t *d, const char *dir,
                           fg_err_t *err)
{
    char         path[PATH_MAX];
    json_t      *arr, *item, *pue, *wue;
    json_error_t jerr;
    size_t       i;
    const char  *id, *name, *country, *source, *note;
    int          assumed;

    arr = impact_data_open(dir, "providers.json", "providers", path,
                           sizeof(path), err);
    if (arr == NULL) {
        return FG_ERR;
    }
    d->providers = fg_xcalloc(json_array_size(arr) + 1,
                              sizeof(fg_impact_provider_t));
    json_array_foreach(arr, i, item) {
        fg_impact_provider_t *p = &d->providers[i];

        name = NULL;
        note = NULL;
        assumed = 0;
        if (json_unpack_ex(item, &jerr, 0,
                           "{s:s, s?s, s:o, s:o, s:s, s?b, s:s, s?s !}",
                           "id", &id, "name", &name, "pue", &pue,
                           "wue_site_l_per_kwh", &wue, "country", &country,
                           "assumed", &assumed, "source", &source,
                           "note", &note) != 0) {
            fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                       "%s: providers[%zu]: %s", path, i, jerr.text);
            goto fail;
        }
        if (!fg_idindex_add(&d->providers_by_id, id, i)) {
            fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                       "%s: providers[%zu]: duplicate id \"%s\"", path, i,
                       id);
            goto fail;
        }
        if (impact_data_range(pue, 1, 3, &p->pue) != FG_OK) {
            fg_err_set(err, FG_E_OUT_OF_RANGE, NULL,
                       "%s: providers[%zu] (\"%s\"): pue must be a number "
                       "or [min, max] within 1..3", path, i, id);
            goto fail;
        }
        if (impact_data_range(wue, 0, 20, &p->wue_site_l_per_kwh) != FG_OK) {
            fg_err_set(err, FG_E_OUT_OF_RANGE, NULL,
                       "%s: providers[%zu] (\"%s\"): wue_site_l_per_kwh "
                       "must be a number or [min, max] within 0..20", path,
                       i, id);
            goto fail;
        }
        p->country = fg_impact_data_country(d, country);
        if (p->country == NULL) {
            fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                       "%s: providers[%zu] (\"%s\"): country \"%s\" is not "
                       "in countries.json", path, i, id, country);
            goto fail;
        }
        if (source[0] == '\0') {
            fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                       "%s: providers[%zu] (\"%s\"): empty source", path, i,
                       id);
            goto fail;
        }
        p->id = fg_xstrdup(id);
        p->is_assumed = assumed;
        d->provider_count = i + 1;
    }
    json_decref(arr);
    return FG_OK;

fail:
    json_decref(arr);
    return FG_ERR;
}

static int
impact_data_load_model(fg_impact_data_t *d, const char *path, size_t i,
                       json_t *item, fg_err_t *err)
{
    fg_impact_model_t *m = &d->models[i];
    json_t            *aliases = NULL, *active = NULL, *total = NULL, *a;
    json_error_t       jerr;
    const char        *id, *size_class = NULL, *source, *note = NULL;
    size_t             k;
    int                quant_bits = 16, demo = 0;

    if (json_unpack_ex(item, &jerr, 0,
                       "{s:s, s?o, s?o, s?o, s?s, s?i, s?b, s:s, s?s !}",
                       "id", &id, "aliases", &aliases, "active_b", &active,
                       "total_b", &total, "size_class", &size_class,
                       "quant_bits", &quant_bits, "demo", &demo,
                       "source", &source, "note", &note) != 0) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "%s: models[%zu]: %s", path, i, jerr.text);
    }
    if (fg_impact_data_model(d, id) != NULL) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "%s: models[%zu]: duplicate id \"%s\"", path, i,
                          id);
    }
    if (aliases != NULL && !json_is_array(aliases)) {
        return fg_err_set(err, FG_E_INVALID_TYPE, NULL,
                          "%s: models[%zu] (\"%s\"): aliases must be an "
                          "array of model ids", path, i, id);
    }
    json_array_foreach(aliases, k, a) {
        size_t j;

        if (!json_is_string(a) || json_string_length(a) == 0) {
            return fg_err_set(err, FG_E_INVALID_TYPE, NULL,
                              "%s: models[%zu] (\"%s\"): aliases[%zu] is "
                              "not a model id", path, i, id, k);
        }
        if (fg_impact_data_model(d, json_string_value(a)) != NULL
            || strcmp(json_string_value(a), id) == 0) {
            return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                              "%s: models[%zu] (\"%s\"): alias \"%s\" "
                              "names another entry", path, i, id,
                              json_string_value(a));
        }
        for (j = 0; j < k; j++) {
            if (json_equal(json_array_get(aliases, j), a)) {
                return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                                  "%s: models[%zu] (\"%s\"): alias \"%s\" "
                                  "is listed twice", path, i, id,
                                  json_string_value(a));
            }
        }
    }

    /* Parameters, or a size class that admits they are unknown; never
     * neither (that would be a guess) and never both (which wins?). */
    if (active == NULL && size_class == NULL) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "%s: models[%zu] (\"%s\"): neither active_b nor "
                          "size_class: give the published parameters, or a "
                          "size_class (small|medium|large|xlarge) and the "
                          "figures are marked estimated", path, i, id);
    }
    if (active != NULL && size_class != NULL) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "%s: models[%zu] (\"%s\"): active_b and "
                          "size_class are exclusive", path, i, id);
    }
    if (size_class != NULL) {
        if (total != NULL) {
            return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                              "%s: models[%zu] (\"%s\"): total_b needs "
                              "active_b, not a size_class", path, i, id);
        }
        m->size_class = fg_impact_size_class(size_class, &m->active_b,
                                             &m->total_b);
        if (m->size_class == FG_IMPACT_SIZE_NONE) {
            return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                              "%s: models[%zu] (\"%s\"): size_class \"%s\" "
                              "is not small, medium, large or xlarge", path,
                              i, id, size_class);
        }
    } else {
        if (impact_data_range(active, 1e-3, IMPACT_DATA_MAX_PARAMS_B,
                              &m->active_b) != FG_OK) {
            return fg_err_set(err, FG_E_OUT_OF_RANGE, NULL,
                              "%s: models[%zu] (\"%s\"): active_b must be "
                              "billions of parameters, a number or "
                              "[min, max], > 0", path, i, id);
        }
        m->total_b = m->active_b;    /* dense unless told otherwise */
        if (total != NULL
            && impact_data_range(total, 1e-3, IMPACT_DATA_MAX_PARAMS_B,
                                 &m->total_b) != FG_OK) {
            return fg_err_set(err, FG_E_OUT_OF_RANGE, NULL,
                              "%s: models[%zu] (\"%s\"): total_b must be "
                              "billions of parameters, a number or "
                              "[min, max], > 0", path, i, id);
        }
        if (m->total_b.min < m->active_b.min
            || m->total_b.max < m->active_b.max) {
            return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                              "%s: models[%zu] (\"%s\"): total_b is less "
                              "than active_b", path, i, id);
        }
    }
    if (quant_bits < 1 || quant_bits > 32) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, NULL,
                          "%s: models[%zu] (\"%s\"): quant_bits must be "
                          "1..32", path, i, id);
    }
    if (source[0] == '\0') {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "%s: models[%zu] (\"%s\"): empty source", path, i,
                          id);
    }

    /* Indexed only now that it is whole: the checks above looked only at
     * the entries before it. */
    m->id = fg_xstrdup(id);
    (void) fg_idindex_add(&d->models_by_id, id, i);
    m->aliases = fg_xcalloc(json_array_size(aliases) + 1, sizeof(char *));
    json_array_foreach(aliases, k, a) {
        m->aliases[k] = fg_xstrdup(json_string_value(a));
        (void) fg_idindex_add(&d->models_by_id, m->aliases[k], i);
    }
    m->quant_bits = quant_bits;
    m->is_demo = demo;
    d->model_count = i + 1;
    return FG_OK;
}

static int
impact_data_load_models(fg_impact_data_t *d, const char *dir, fg_err_t *err)
{
    char    path[PATH_MAX];
    json_t *arr, *item;
    size_t  i;

    arr = impact_data_open(dir, "models.json", "models", path, sizeof(path),
                           err);
    if (arr == NULL) {
        return FG_ERR;
    }
    d->models = fg_xcalloc(json_array_size(arr) + 1,
                           sizeof(fg_impact_model_t));
    json_array_foreach(arr, i, item) {
        if (impact_data_load_model(d, path, i, item, err) != FG_OK) {
            json_decref(arr);
            return FG_ERR;
        }
    }
    json_decref(arr);
    return FG_OK;
}

fg_impact_data_t *
fg_impact_data_load(const char *dir, const char *const *model_ids,
                    size_t n_models, const char *const *provider_ids,
                    size_t n_providers, fg_err_t *err)
{
    fg_impact_data_t *d = fg_xcalloc(1, sizeof(*d));
    size_t            i;

    /* Countries first: providers name them. */
    if (impact_data_load_countries(d, dir, err) != FG_OK
        || impact_data_load_providers(d, dir, err) != FG_OK
        || impact_data_load_models(d, dir, err) != FG_OK) {
        goto fail;
    }
    for (i = 0; i < n_models; i++) {
        if (fg_impact_data_model(d, model_ids[i]) == NULL) {
            fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                       "%s/models.json: no entry for catalog model \"%s\": "
                       "add its parameters (active_b, total_b) or a "
                       "size_class; impact is never guessed", dir,
                       model_ids[i]);
            goto fail;
        }
    }
    for (i = 0; i < n_providers; i++) {
        if (fg_impact_data_provider(d, provider_ids[i]) == NULL) {
            fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                       "%s/providers.json: no entry for catalog provider "
                       "\"%s\": add its pue, wue_site_l_per_kwh and "
                       "country", dir, provider_ids[i]);
            goto fail;
        }
    }
    return d;

fail:
    fg_impact_data_free(d);
    return NULL;
}

void
fg_impact_data_free(fg_impact_data_t *d)
{
    size_t i;
    char **a;

    if (d == NULL) {
        return;
    }
    for (i = 0; i < d->country_count; i++) {
        free(d->countries[i].code);
        free(d->countries[i].name);
    }
    for (i = 0; i < d->provider_count; i++) {
        free(d->providers[i].id);
    }
    for (i = 0; i < d->model_count; i++) {
        free(d->models[i].id);
        for (a = d->models[i].aliases; a != NULL && *a != NULL; a++) {
            free(*a);
        }
        free(d->models[i].aliases);
    }
    free(d->countries);
    free(d->providers);
    free(d->models);
    fg_idindex_cleanup(&d->countries_by_code);
    fg_idindex_cleanup(&d->providers_by_id);
    fg_idindex_cleanup(&d->models_by_id);
    free(d);
}

const fg_impact_model_t *
fg_impact_data_model(const fg_impact_data_t *d, const char *id)
{
    size_t i = fg_idindex_find(&d->models_by_id, id);

    return i == FG_IDINDEX_NONE ? NULL : &d->models[i];
}

const fg_impact_provider_t *
fg_impact_data_provider(const fg_impact_data_t *d, const char *id)
{
    size_t i = fg_idindex_find(&d->providers_by_id, id);

    return i == FG_IDINDEX_NONE ? NULL : &d->providers[i];
}

const fg_impact_country_t *
fg_impact_data_country(const fg_impact_data_t *d, const char *code)
{
    size_t i = fg_idindex_find(&d->countries_by_code, code);

    return i == FG_IDINDEX_NONE ? NULL : &d->countries[i];
}

fg_impact_size_class_t
fg_impact_size_class(const char *name, fg_impact_range_t *active_b,
                     fg_impact_range_t *total_b)
{
    size_t i;

    for (i = 0; i < sizeof(impact_size_classes)
                    / sizeof(impact_size_classes[0]); i++) {
        if (strcmp(impact_size_classes[i].name, name) == 0) {
            *active_b = impact_size_classes[i].active_b;
            *total_b = impact_size_classes[i].total_b;
            return impact_size_classes[i].cls;
        }
    }
    return FG_IMPACT_SIZE_NONE;
}

int
fg_impact_data_estimate(const fg_impact_data_t *d, const char *model_id,
                        const char *provider_id,
                        const fg_impact_usage_t *usage, unsigned flags,
                        fg_impact_t *out, fg_err_t *err)
{
    return fg_impact_data_estimate_at(d, model_id, provider_id, NULL, 0,
                                      usage, flags, out, err);
}

int
fg_impact_data_estimate_at(const fg_impact_data_t *d, const char *model_id,
                           const char *provider_id, const char *country,
                           double pue, const fg_impact_usage_t *usage,
                           unsigned flags, fg_impact_t *out, fg_err_t *err)
{
    const fg_impact_model_t    *m = fg_impact_data_model(d, model_id);
    const fg_impact_provider_t *p = fg_impact_data_provider(d, provider_id);
    const fg_impact_country_t  *c;
    fg_impact_input_t           in;

    if (m == NULL || p == NULL) {
        memset(out, 0, sizeof(*out));
        return fg_err_set(err, FG_E_NOT_FOUND, NULL,
                          "no impact data for %s \"%s\"",
                          m == NULL ? "model" : "provider",
                          m == NULL ? model_id : provider_id);
    }
    c = country != NULL ? fg_impact_data_country(d, country) : p->country;
    if (c == NULL) {
        memset(out, 0, sizeof(*out));
        return fg_err_set(err, FG_E_NOT_FOUND, NULL,
                          "no impact data for country \"%s\"", country);
    }
    memset(&in, 0, sizeof(in));
    in.active_b = m->active_b;
    in.total_b = m->total_b;
    in.quant_bits = m->quant_bits;
    in.output_tokens = usage->completion_tokens;
    in.prompt_tokens = usage->prompt_tokens;
    in.cached_tokens = usage->cached_tokens;
    in.measured_s = usage->measured_s;
    in.pue = p->pue;
    if (pue > 0) {
        in.pue.min = in.pue.max = pue;
    }
    in.wue_site_l_per_kwh = p->wue_site_l_per_kwh;
    in.ci_g_per_kwh = c->ci_g_per_kwh;
    in.wue_grid_l_per_kwh = c->wue_grid_l_per_kwh;
    in.renewable_percent = c->renewable_percent;
    in.flags = flags;
    in.is_estimated = m->size_class != FG_IMPACT_SIZE_NONE || m->is_demo
                      || p->is_assumed;
    return fg_impact_compute(&in, out, err);
}
