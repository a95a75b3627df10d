/*
 * test_catalog.c: loading the provider and model catalogs, enabling
 * providers by their key variable, and routing requested model ids.
 */

#include "common/base/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/fg_test.h"

static char providers_path[64], models_path[64];

static void
write_file(char *path, size_t size, const char *name, const char *text)
{
    FILE *f;

    snprintf(path, size, "/tmp/fg-test-%s-%d.json", name, (int) getpid());
    f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static fg_catalog_t *
load(const char *providers, const char *models, fg_err_t *err)
{
    write_file(providers_path, sizeof(providers_path), "providers",
               providers);
    write_file(models_path, sizeof(models_path), "models", models);
    return fg_catalog_load(providers_path, models_path, err);
}

#define ONE_PROVIDER                                                        \
    "{\"providers\": [{\"id\": \"p\", \"base_url\": \"http://h/v1/\","      \
    " \"key_env\": \"FG_TEST_KEY\", \"headers\": {\"X-A\": \"b\"}}]}"
#define MODEL(id, extra)                                                    \
    "{\"id\": \"" id "\", \"provider\": \"p\", \"context_window\": 100,"    \
    " \"max_output_tokens\": 10" extra ", \"pricing\":"                     \
    " {\"prompt_per_mtok_micro\": 1, \"completion_per_mtok_micro\": 2}}"

static void
shipped_catalogs_load(void)
{
    fg_err_t      err;
    fg_catalog_t *cat = fg_catalog_load("etc/providers.json",
                                        "etc/models.json", &err);

    expect_true(cat != NULL);
    if (cat != NULL) {
        expect_true(cat->provider_count >= 9);
        expect_true(fg_catalog_provider(cat, "demo") != NULL);
        expect_true(fg_catalog_provider(cat, "openrouter") != NULL);
    }
    fg_catalog_free(cat);
}

static void
provider_is_enabled_only_when_its_key_variable_is_set(void)
{
    fg_err_t      err;
    fg_catalog_t *cat;

    unsetenv("FG_TEST_KEY");
    cat = load(ONE_PROVIDER, "{\"models\": [" MODEL("m", "") "]}", &err);
    expect_true(cat != NULL);
    expect_int_eq(cat->providers[0].is_enabled, 0);
    expect_true(fg_catalog_route(cat, "m") == NULL);
    fg_catalog_free(cat);

    setenv("FG_TEST_KEY", "secret", 1);
    cat = load(ONE_PROVIDER, "{\"models\": [" MODEL("m", "") "]}", &err);
    expect_int_eq(cat->providers[0].is_enabled, 1);
    expect_str_eq(cat->providers[0].api_key, "secret");
    expect_true(fg_catalog_route(cat, "m") != NULL);
    fg_catalog_free(cat);
}

static void
base_url_loses_its_trailing_slash_and_headers_become_lines(void)
{
    fg_err_t      err;
    fg_catalog_t *cat;

    cat = load(ONE_PROVIDER, "{\"models\": []}", &err);
    expect_str_eq(cat->providers[0].base_url, "http://h/v1");
    expect_str_eq(cat->providers[0].headers[0], "X-A: b");
    expect_true(cat->providers[0].headers[1] == NULL);
    fg_catalog_free(cat);
}

static void
provider_slash_model_routes_by_public_or_upstream_id(void)
{
    fg_err_t          err;
    fg_catalog_t     *cat;
    const fg_model_t *m;

    setenv("FG_TEST_KEY", "k", 1);
    cat = load(ONE_PROVIDER, "{\"models\": ["
               MODEL("pub", ", \"upstream_id\": \"org/real\"") "]}", &err);
    m = fg_catalog_route(cat, "pub");
    expect_true(m != NULL && strcmp(m->upstream_id, "org/real") == 0);
    expect_true(fg_catalog_route(cat, "p/pub") == m);
    expect_true(fg_catalog_route(cat, "p/org/real") == m);
    expect_true(fg_catalog_route(cat, "q/pub") == NULL);
    expect_true(fg_catalog_route(cat, "p/") == NULL);
    expect_true(fg_catalog_route(cat, "nope") == NULL);
    fg_catalog_free(cat);
}

#define TWO_PROVIDERS                                                       \
    "{\"providers\": [{\"id\": \"p\", \"base_url\": \"http://h/v1\"},"       \
    " {\"id\": \"q/r\", \"base_url\": \"http://h/v1\"}]}"
#define MODEL_OF(id, provider, upstream)                                    \
    "{\"id\": \"" id "\", \"provider\": \"" provider "\","                  \
    " \"upstream_id\": \"" upstream "\", \"context_window\": 100,"          \
    " \"max_output_tokens\": 10, \"pricing\":"                              \
    " {\"prompt_per_mtok_micro\": 1, \"completion_per_mtok_micro\": 2}}"

static void
provider_slash_model_takes_the_first_match_in_catalog_order(void)
{
    fg_err_t      err;
    fg_catalog_t *cat;

    /* "p/x" is the first model's upstream id and the second's public id:
     * the first wins, as it did when routing scanned the catalog. */
    cat = load(TWO_PROVIDERS, "{\"models\": ["
               MODEL_OF("a", "p", "x") ", " MODEL_OF("x", "p", "y") ", "
               MODEL_OF("b", "p", "x") "]}", &err);
    expect_true(cat != NULL);
    expect_true(fg_catalog_route(cat, "p/x") == &cat->models[0]);
    expect_true(fg_catalog_route(cat, "x") == &cat->models[1]);
    expect_true(fg_catalog_route(cat, "p/y") == &cat->models[1]);
    fg_catalog_free(cat);
}

static void
a_provider_id_with_a_slash_is_not_a_route_prefix(void)
{
    fg_err_t      err;
    fg_catalog_t *cat;

    /* The provider is named up to the first slash: "q/r/m" names a
     * provider "q", which does not exist, not "q/r". */
    cat = load(TWO_PROVIDERS, "{\"models\": ["
               MODEL_OF("m", "q/r", "m") "]}", &err);
    expect_true(cat != NULL);
    expect_true(fg_catalog_route(cat, "m") == &cat->models[0]);
    expect_true(fg_catalog_route(cat, "q/r/m") == NULL);
    fg_catalog_free(cat);
}

static void
routing_finds_every_model_of_a_large_catalog(void)
{
    fg_err_t      err;
    fg_catalog_t *cat;
    char         *models, name[32];
    size_t        i, n = 2000, len = 0, wrong = 0;

    models = malloc(n * 200 + 32);
    len += (size_t) sprintf(models, "{\"models\": [");
    for (i = 0; i < n; i++) {
        len += (size_t) sprintf(models + len, "%s{\"id\": \"m%zu\","
                                " \"provider\": \"p\", \"context_window\":"
                                " 1, \"max_output_tokens\": 1, \"pricing\":"
                                " {\"prompt_per_mtok_micro\": 1,"
                                " \"completion_per_mtok_micro\": 1}}",
                                i ? ", " : "", i);
    }
    sprintf(models + len, "]}");
    cat = load(TWO_PROVIDERS, models, &err);
    expect_true(cat != NULL);
    for (i = 0; cat != NULL && i < n; i++) {
        snprintf(name, sizeof(name), "m%zu", i);
        wrong += fg_catalog_route(cat, name) != &cat->models[i];
        snprintf(name, sizeof(name), "p/m%zu", i);
        wrong += fg_catalog_route(cat, name) != &cat->models[i];
    }
    expect_int_eq(wrong, 0);
    expect_true(cat == NULL || fg_catalog_route(cat, "m2000") == NULL);
    fg_catalog_free(cat);
    free(models);
}

static void
cached_price_defaults_to_the_prompt_price(void)
{
    fg_err_t      err;
    fg_catalog_t *cat;

    cat = load(ONE_PROVIDER, "{\"models\": [" MODEL("m", "") "]}", &err);
    expect_int_eq(cat->models[0].cached_prompt_per_mtok_micro, 1);
    expect_int_eq(cat->models[0].completion_per_mtok_micro, 2);
    fg_catalog_free(cat);
}

static void
unknown_field_in_a_model_is_an_error(void)
{
    fg_err_t err;

    expect_true(load(ONE_PROVIDER, "{\"models\": ["
                     MODEL("m", ", \"prise\": 1") "]}", &err) == NULL);
    expect_true(strstr(err.msg, "models[0]") != NULL);
}

static void
model_of_an_unknown_provider_is_an_error(void)
{
    fg_err_t err;

    expect_true(load(ONE_PROVIDER, "{\"models\": [{\"id\": \"m\","
                     " \"provider\": \"zz\", \"context_window\": 1,"
                     " \"max_output_tokens\": 1, \"pricing\":"
                     " {\"prompt_per_mtok_micro\": 1,"
                     " \"completion_per_mtok_micro\": 1}}]}", &err) == NULL);
    expect_true(strstr(err.msg, "unknown provider \"zz\"") != NULL);
}

static void
duplicate_provider_id_is_an_error(void)
{
    fg_err_t err;

    expect_true(load("{\"providers\": [{\"id\": \"p\", \"base_url\":"
                     " \"http://a\"}, {\"id\": \"p\", \"base_url\":"
                     " \"http://b\"}]}", "{\"models\": []}", &err) == NULL);
    expect_true(strstr(err.msg, "duplicate id") != NULL);
}

/* --- endpoints ---------------------------------------------------------- */

/* "a" and "b" need no key; "off" names one nobody sets. */
#define ENDPOINT_PROVIDERS                                                  \
    "{\"providers\": [{\"id\": \"a\", \"name\": \"A Cloud\","               \
    " \"base_url\": \"http://a/v1\"},"                                      \
    " {\"id\": \"b\", \"base_url\": \"http://b/v1\"},"                      \
    " {\"id\": \"off\", \"base_url\": \"http://off/v1\","                   \
    " \"key_env\": \"FG_TEST_UNSET_KEY\"}]}"
#define PRICING(prompt, completion)                                         \
    "\"pricing\": {\"prompt_per_mtok_micro\": " #prompt ","                 \
    " \"completion_per_mtok_micro\": " #completion "}"
/* A model "m" whose defaults are @defaults and endpoints @endpoints. */
#define MULTI(defaults, endpoints)                                          \
    "{\"models\": [{\"id\": \"m\"" defaults ", \"endpoints\": ["            \
    endpoints "]}]}"
#define DEFAULTS                                                            \
    ", \"context_window\": 1000, \"max_output_tokens\": 100, "              \
    PRICING(10, 20)

/* Loads @models against ENDPOINT_PROVIDERS; NULL (a failure) if refused. */
static fg_catalog_t *
load_endpoints(const char *models)
{
    fg_err_t      err;
    fg_catalog_t *cat;

    unsetenv("FG_TEST_UNSET_KEY");
    cat = load(ENDPOINT_PROVIDERS, models, &err);
    if (cat == NULL) {
        FG_TEST_FAIL("load: %s", err.msg);
    }
    return cat;
}

/* Expects @models refused with a message holding @text. */
static void
expect_refused(const char *models, const char *text)
{
    fg_err_t      err;
    fg_catalog_t *cat;

    cat = load(ENDPOINT_PROVIDERS, models, &err);
    expect_true(cat == NULL);
    if (cat == NULL && strstr(err.msg, text) == NULL) {
        FG_TEST_FAIL("message \"%s\" lacks \"%s\"", err.msg, text);
    }
    fg_catalog_free(cat);
}

static void
a_single_provider_model_has_one_endpoint_of_its_fields(void)
{
    fg_catalog_t        *cat;
    const fg_endpoint_t *e;

    cat = load_endpoints("{\"models\": [{\"id\": \"m\", \"provider\": \"a\","
                         " \"upstream_id\": \"up\", \"context_window\": 1000,"
                         " \"max_output_tokens\": 100,"
                         " \"supports_vision\": true, " PRICING(10, 20)
                         "}]}");
    if (cat == NULL) {
        return;
    }
    expect_int_eq(cat->endpoint_count, 1);
    expect_int_eq(cat->models[0].endpoint_count, 1);
    e = cat->models[0].endpoints[0];
    expect_true(e == &cat->endpoints[0] && e->index == 0);
    expect_true(e->model == &cat->models[0]);
    expect_str_eq(e->provider->id, "a");
    expect_str_eq(e->upstream_id, "up");
    expect_int_eq(e->context_window, 1000);
    expect_int_eq(e->max_output_tokens, 100);
    expect_int_eq(e->supports_vision, 1);
    expect_int_eq(e->supports_tools, 0);
    expect_int_eq(e->supports_json_schema, 1);
    expect_int_eq(e->apis, FG_API_CHAT);
    expect_int_eq(e->prompt_per_mtok_micro, 10);
    expect_int_eq(e->cached_prompt_per_mtok_micro, 10);
    expect_int_eq(e->completion_per_mtok_micro, 20);
    expect_true(e->quantization == NULL && e->parameters == NULL);
    expect_true(e->country == NULL && e->pue == 0);
    expect_int_eq(e->health_slot, -1);
    expect_true(cat->models[0].quality == FG_CATALOG_QUALITY_DEFAULT);
    fg_catalog_free(cat);
}

static void
endpoints_inherit_what_they_do_not_give_from_the_model(void)
{
    fg_catalog_t        *cat;
    const fg_endpoint_t *e;

    cat = load_endpoints(MULTI(DEFAULTS ", \"supports_tools\": true,"
                               " \"quantization\": \"fp8\", \"apis\":"
                               " [\"chat\", \"responses\"], \"parameters\":"
                               " [\"temperature\"], \"country\": \"SE\","
                               " \"pue\": 1.1",
                               "{\"provider\": \"a\"}, {\"provider\": \"b\"}"));
    if (cat == NULL) {
        return;
    }
    expect_int_eq(cat->endpoint_count, 2);
    e = cat->models[0].endpoints[1];
    expect_true(e == &cat->endpoints[1] && e->index == 1);
    expect_str_eq(e->provider->id, "b");
    expect_str_eq(e->upstream_id, "m");
    expect_int_eq(e->context_window, 1000);
    expect_int_eq(e->max_output_tokens, 100);
    expect_int_eq(e->supports_tools, 1);
    expect_int_eq(e->completion_per_mtok_micro, 20);
    expect_str_eq(e->quantization, "fp8");
    expect_int_eq(e->apis, FG_API_CHAT | FG_API_RESPONSES);
    expect_int_eq(json_array_size(e->parameters), 1);
    expect_str_eq(e->country, "SE");
    expect_true(e->pue == 1.1);
    fg_catalog_free(cat);
}

static void
an_endpoint_overrides_the_model(void)
{
    fg_catalog_t        *cat;
    const fg_endpoint_t *e;

    cat = load_endpoints(MULTI(DEFAULTS ", \"quantization\": \"fp8\"",
                               "{\"provider\": \"a\"}, {\"provider\": \"b\","
                               " \"upstream_id\": \"org/m-int4\","
                               " \"context_window\": 500,"
                               " \"supports_json_schema\": false,"
                               " \"quantization\": \"int4\","
                               " \"reasoning_effort\": [\"low\"], "
                               PRICING(1, 2) ", \"limits\":"
                               " {\"requests_per_min\": 60}}"));
    if (cat == NULL) {
        return;
    }
    e = cat->models[0].endpoints[1];
    expect_str_eq(e->upstream_id, "org/m-int4");
    expect_int_eq(e->context_window, 500);
    expect_int_eq(e->max_output_tokens, 100);
    expect_int_eq(e->supports_json_schema, 0);
    expect_str_eq(e->quantization, "int4");
    expect_int_eq(json_array_size(e->reasoning_effort), 1);
    expect_int_eq(e->prompt_per_mtok_micro, 1);
    expect_int_eq(e->cached_prompt_per_mtok_micro, 1);
    expect_int_eq(e->requests_per_min, 60);
    expect_str_eq(cat->models[0].endpoints[0]->quantization, "fp8");
    fg_catalog_free(cat);
}

static void
provider_and_endpoints_together_are_an_error(void)
{
    expect_refused(MULTI(DEFAULTS ", \"provider\": \"a\"",
                         "{\"provider\": \"b\"}"), "not both");
}

static void
neither_provider_nor_endpoints_is_an_error(void)
{
    expect_refused("{\"models\": [{\"id\": \"m\"" DEFAULTS "}]}",
                   "either \"provider\"");
}

static void
two_endpoints_at_one_provider_are_an_error(void)
{
    expect_refused(MULTI(DEFAULTS, "{\"provider\": \"a\"},"
                         " {\"provider\": \"a\", \"upstream_id\": \"x\"}"),
                   "models[0].endpoints[1] (\"m\"): a second endpoint at "
                   "provider \"a\"");
}

/* FG_CATALOG_MAX_ENDPOINTS bounds what one model entry may list. */
static void
more_endpoints_than_the_bound_are_an_error(void)
{
    char   models[4096];
    size_t n = 0;
    int    i;

    n += (size_t) snprintf(models + n, sizeof(models) - n,
                           "{\"models\": [{\"id\": \"m\"" DEFAULTS
                           ", \"endpoints\": [");
    for (i = 0; i <= FG_CATALOG_MAX_ENDPOINTS; i++) {
        n += (size_t) snprintf(models + n, sizeof(models) - n,
                               "%s{\"provider\": \"a\"}", i ? ", " : "");
    }
    snprintf(models + n, sizeof(models) - n, "]}]}");
    expect_refused(models, "endpoints must be an array of 1 to 32 entries");
    expect_refused(MULTI(DEFAULTS, ""),
                   "endpoints must be an array of 1 to 32 entries");
}

static void
endpoint_of_an_unknown_provider_is_an_error_naming_it(void)
{
    expect_refused(MULTI(DEFAULTS, "{\"provider\": \"zz\"}"),
                   "models[0].endpoints[0] (\"m\"): unknown provider "
                   "\"zz\"");
}

static void
unknown_member_of_an_endpoint_is_an_error_naming_it(void)
{
    expect_refused(MULTI(DEFAULTS, "{\"provider\": \"a\"},"
                         " {\"provider\": \"b\", \"prise\": 1}"),
                   "models[0].endpoints[1] (\"m\"): unknown member "
                   "\"prise\"");
}

static void
endpoint_without_window_or_pricing_and_no_default_is_an_error_naming_it(void)
{
    expect_refused(MULTI(", " PRICING(1, 2), "{\"provider\": \"a\","
                         " \"context_window\": 1, \"max_output_tokens\": 1},"
                         " {\"provider\": \"b\", \"max_output_tokens\": 1}"),
                   "models[0].endpoints[1] (\"m\"): no \"context_window\"");
    expect_refused(MULTI(", \"context_window\": 1, \"max_output_tokens\": 1",
                         "{\"provider\": \"a\"}"),
                   "models[0].endpoints[0] (\"m\"): no \"pricing\"");
}

static void
model_summary_takes_the_widest_window_any_capability_and_the_cheapest(void)
{
    fg_catalog_t     *cat;
    const fg_model_t *m;

    cat = load_endpoints(MULTI(DEFAULTS,
                               "{\"provider\": \"a\", \"context_window\":"
                               " 4000, \"reasoning_effort\": [\"low\","
                               " \"high\"], " PRICING(30, 30) "},"
                               " {\"provider\": \"b\", \"max_output_tokens\":"
                               " 900, \"supports_vision\": true,"
                               " \"reasoning_effort\": [\"high\","
                               " \"medium\"], \"pricing\":"
                               " {\"prompt_per_mtok_micro\": 5,"
                               " \"cached_prompt_per_mtok_micro\": 1,"
                               " \"completion_per_mtok_micro\": 40}}"));
    if (cat == NULL) {
        return;
    }
    m = &cat->models[0];
    expect_int_eq(m->context_window, 4000);
    expect_int_eq(m->max_output_tokens, 900);
    expect_int_eq(m->supports_vision, 1);
    expect_int_eq(m->supports_tools, 0);
    expect_int_eq(json_array_size(m->reasoning_effort), 3);
    expect_str_eq(json_string_value(json_array_get(m->reasoning_effort, 2)),
                  "medium");
    /* 5 + 40 beats 30 + 30. */
    expect_int_eq(m->prompt_per_mtok_micro, 5);
    expect_int_eq(m->cached_prompt_per_mtok_micro, 1);
    expect_int_eq(m->completion_per_mtok_micro, 40);
    expect_str_eq(m->provider->id, "a");
    fg_catalog_free(cat);
}

static void
a_disabled_providers_endpoint_is_left_out_of_the_summary(void)
{
    fg_catalog_t     *cat;
    const fg_model_t *m;

    cat = load_endpoints(MULTI(DEFAULTS,
                               "{\"provider\": \"off\", \"upstream_id\":"
                               " \"cheap\", \"context_window\": 9000, "
                               PRICING(0, 0) "}, {\"provider\": \"b\"}"));
    if (cat == NULL) {
        return;
    }
    m = &cat->models[0];
    expect_int_eq(m->context_window, 1000);
    expect_int_eq(m->prompt_per_mtok_micro, 10);
    expect_str_eq(m->provider->id, "b");
    expect_str_eq(m->upstream_id, "m");
    fg_catalog_free(cat);
}

static void
a_model_is_found_while_one_of_its_endpoints_is_enabled(void)
{
    fg_catalog_t *cat;

    cat = load_endpoints("{\"models\": [{\"id\": \"m\"" DEFAULTS ","
                         " \"endpoints\": [{\"provider\": \"off\"},"
                         " {\"provider\": \"b\"}]}, {\"id\": \"n\"" DEFAULTS
                         ", \"endpoints\": [{\"provider\": \"off\"}]}]}");
    if (cat == NULL) {
        return;
    }
    expect_true(fg_catalog_route(cat, "m") == &cat->models[0]);
    expect_true(fg_catalog_route(cat, "n") == NULL);
    fg_catalog_free(cat);
}

static void
provider_slash_model_resolves_pinned_to_that_provider(void)
{
    fg_catalog_t        *cat;
    const fg_provider_t *pinned;

    cat = load_endpoints(MULTI(DEFAULTS, "{\"provider\": \"a\"},"
                               " {\"provider\": \"b\"}"));
    if (cat == NULL) {
        return;
    }
    expect_true(fg_catalog_resolve(cat, "b/m", &pinned) == &cat->models[0]);
    /* A plain id pins nothing, whatever the pointer held. */
    expect_true(pinned == fg_catalog_provider(cat, "b"));
    expect_true(fg_catalog_resolve(cat, "m", &pinned) == &cat->models[0]);
    expect_true(pinned == NULL);
    fg_catalog_free(cat);
}

static void
provider_slash_upstream_id_resolves_pinned_to_that_provider(void)
{
    fg_catalog_t        *cat;
    const fg_provider_t *pinned = NULL;

    cat = load_endpoints(MULTI(DEFAULTS, "{\"provider\": \"a\","
                               " \"upstream_id\": \"org/m-a\"},"
                               " {\"provider\": \"b\", \"upstream_id\":"
                               " \"m-b\"}"));
    if (cat == NULL) {
        return;
    }
    expect_true(fg_catalog_resolve(cat, "a/org/m-a", &pinned)
                == &cat->models[0]);
    expect_true(pinned == fg_catalog_provider(cat, "a"));
    expect_true(fg_catalog_resolve(cat, "b/m-b", &pinned)
                == &cat->models[0]);
    expect_true(pinned == fg_catalog_provider(cat, "b"));
    expect_true(fg_catalog_resolve(cat, "a/m-b", &pinned) == NULL);
    fg_catalog_free(cat);
}

static void
qualified_name_of_a_disabled_endpoint_is_not_found(void)
{
    fg_catalog_t        *cat;
    const fg_provider_t *pinned;

    cat = load_endpoints(MULTI(DEFAULTS, "{\"provider\": \"off\"},"
                               " {\"provider\": \"b\"}"));
    if (cat == NULL) {
        return;
    }
    pinned = &cat->providers[0];
    expect_true(fg_catalog_resolve(cat, "off/m", &pinned) == NULL);
    expect_true(pinned == NULL);
    expect_true(fg_catalog_route(cat, "b/m") == &cat->models[0]);
    fg_catalog_free(cat);
}

static void
catalog_endpoint_finds_a_models_endpoint_by_provider(void)
{
    fg_catalog_t *cat;

    cat = load_endpoints(MULTI(DEFAULTS, "{\"provider\": \"a\"},"
                               " {\"provider\": \"b\"}"));
    if (cat == NULL) {
        return;
    }
    expect_true(fg_catalog_endpoint(&cat->models[0],
                                    fg_catalog_provider(cat, "b"))
                == &cat->endpoints[1]);
    expect_true(fg_catalog_endpoint(&cat->models[0],
                                    fg_catalog_provider(cat, "off"))
                == NULL);
    fg_catalog_free(cat);
}

static void
quality_defaults_and_must_be_within_0_and_100(void)
{
    fg_catalog_t *cat;

    cat = load_endpoints(MULTI(DEFAULTS ", \"quality\": 87.5",
                               "{\"provider\": \"a\"}"));
    expect_true(cat == NULL || cat->models[0].quality == 87.5);
    fg_catalog_free(cat);
    expect_refused(MULTI(DEFAULTS ", \"quality\": 101",
                         "{\"provider\": \"a\"}"), "quality");
}

static void
model_json_has_the_price_range_the_endpoint_count_and_the_quality(void)
{
    fg_catalog_t *cat;
    json_t       *j, *range;

    cat = load_endpoints(MULTI(DEFAULTS ", \"quality\": 70",
                               "{\"provider\": \"a\", " PRICING(30, 30) "},"
                               " {\"provider\": \"b\", " PRICING(5, 40) "},"
                               " {\"provider\": \"off\", " PRICING(0, 0)
                               "}"));
    if (cat == NULL) {
        return;
    }
    j = fg_catalog_model_json(&cat->models[0]);
    range = json_object_get(json_object_get(j, "pricing"), "range");
    expect_int_eq(json_integer_value(json_array_get(
                      json_object_get(range, "prompt_per_mtok_micro"), 0)), 5);
    expect_int_eq(json_integer_value(json_array_get(
                      json_object_get(range, "prompt_per_mtok_micro"), 1)),
                  30);
    expect_int_eq(json_integer_value(json_array_get(
                      json_object_get(range, "completion_per_mtok_micro"),
                      0)), 30);
    expect_int_eq(json_integer_value(json_array_get(
                      json_object_get(range, "completion_per_mtok_micro"),
                      1)), 40);
    expect_int_eq(json_integer_value(json_object_get(j, "endpoints")), 2);
    expect_true(json_real_value(json_object_get(j, "quality")) == 70);
    expect_int_eq(json_integer_value(json_object_get(
                      json_object_get(j, "pricing"),
                      "prompt_per_mtok_micro")), 5);
    json_decref(j);
    fg_catalog_free(cat);
}

static void
endpoint_json_describes_one_endpoint(void)
{
    fg_catalog_t *cat;
    json_t       *j, *caps;
    char         *text;

    cat = load_endpoints(MULTI(DEFAULTS, "{\"provider\": \"a\","
                               " \"upstream_id\": \"m-a\", \"apis\":"
                               " [\"chat\", \"embeddings\"],"
                               " \"quantization\": \"bf16\"}"));
    if (cat == NULL) {
        return;
    }
    j = fg_catalog_endpoint_json(&cat->endpoints[0]);
    caps = json_object_get(j, "capabilities");
    expect_str_eq(json_string_value(json_object_get(j, "provider")), "a");
    expect_str_eq(json_string_value(json_object_get(j, "provider_name")),
                  "A Cloud");
    expect_str_eq(json_string_value(json_object_get(j, "upstream_id")),
                  "m-a");
    /* Before the impact tables attach, where it runs is unknown. */
    expect_true(json_is_null(json_object_get(j, "location")));
    expect_true(json_is_null(json_object_get(j, "carbon_intensity")));
    expect_int_eq(json_integer_value(json_object_get(j, "context_window")),
                  1000);
    expect_true(json_is_false(json_object_get(caps, "vision")));
    expect_true(json_is_true(json_object_get(caps, "json_schema")));
    text = json_dumps(json_object_get(caps, "apis"), JSON_COMPACT);
    expect_str_eq(text, "[\"chat\",\"embeddings\"]");
    free(text);
    expect_str_eq(json_string_value(json_object_get(j, "quantization")),
                  "bf16");
    expect_int_eq(json_integer_value(json_object_get(
                      json_object_get(j, "pricing"),
                      "completion_per_mtok_micro")), 20);
    expect_true(json_is_true(json_object_get(j, "enabled")));
    json_decref(j);
    fg_catalog_free(cat);
}

/* --- reasoning ---------------------------------------------------------- */

static void
reasoning_format_defaults_to_reasoning_effort_for_an_endpoint_with_values(void)
{
    fg_catalog_t *cat;

    cat = load_endpoints(MULTI(DEFAULTS, "{\"provider\": \"a\","
                               " \"reasoning_effort\": [\"low\"]},"
                               " {\"provider\": \"b\"}"));
    if (cat == NULL) {
        return;
    }
    expect_int_eq(cat->endpoints[0].reasoning_format, FG_REASONING_EFFORT);
    expect_int_eq(cat->endpoints[1].reasoning_format, FG_REASONING_NONE);
    fg_catalog_free(cat);
}

static void
reasoning_format_is_inherited_from_the_model_and_overridden(void)
{
    fg_catalog_t *cat;

    cat = load_endpoints(MULTI(DEFAULTS ", \"reasoning_format\":"
                               " \"thinking\"",
                               "{\"provider\": \"a\"},"
                               " {\"provider\": \"b\", \"reasoning_format\":"
                               " \"thinking_budget\"},"
                               " {\"provider\": \"off\", \"reasoning_format\":"
                               " \"none\"}"));
    if (cat == NULL) {
        return;
    }
    expect_int_eq(cat->endpoints[0].reasoning_format, FG_REASONING_THINKING);
    expect_int_eq(cat->endpoints[1].reasoning_format,
                  FG_REASONING_THINKING_BUDGET);
    expect_int_eq(cat->endpoints[2].reasoning_format, FG_REASONING_NONE);
    fg_catalog_free(cat);
}

static void
an_unknown_reasoning_format_is_an_error_naming_the_member(void)
{
    expect_refused(MULTI(DEFAULTS, "{\"provider\": \"a\","
                         " \"reasoning_format\": \"budget\"}"),
                   "models[0].endpoints[0] (\"m\"): reasoning_format must be");
    expect_refused(MULTI(DEFAULTS ", \"reasoning_format\": 1",
                         "{\"provider\": \"a\"}"),
                   "models[0] (\"m\"): reasoning_format must be");
}

static void
reasoning_format_reasoning_effort_without_values_is_an_error(void)
{
    expect_refused(MULTI(DEFAULTS, "{\"provider\": \"a\","
                         " \"reasoning_format\": \"reasoning_effort\"}"),
                   "reasoning_format \"reasoning_effort\" needs the "
                   "reasoning_effort values");
}

static void
reasoning_effort_map_is_the_models(void)
{
    fg_catalog_t *cat;
    json_t       *map;

    cat = load_endpoints(MULTI(DEFAULTS ", \"reasoning_effort_map\":"
                               " {\"minimal\": \"low\", \"xhigh\": \"high\"}",
                               "{\"provider\": \"a\", \"reasoning_effort\":"
                               " [\"low\"]}, {\"provider\": \"b\","
                               " \"reasoning_effort\": [\"high\"]}"));
    if (cat == NULL) {
        return;
    }
    map = cat->models[0].reasoning_effort_map;
    expect_int_eq(json_object_size(map), 2);
    expect_str_eq(json_string_value(json_object_get(map, "xhigh")), "high");
    fg_catalog_free(cat);

    cat = load_endpoints(MULTI(DEFAULTS, "{\"provider\": \"a\"}"));
    expect_true(cat == NULL || cat->models[0].reasoning_effort_map == NULL);
    fg_catalog_free(cat);
}

static void
reasoning_effort_map_to_a_value_no_endpoint_accepts_is_an_error(void)
{
    expect_refused(MULTI(DEFAULTS ", \"reasoning_effort_map\":"
                         " {\"xhigh\": \"max\"}",
                         "{\"provider\": \"a\", \"reasoning_effort\":"
                         " [\"high\"]}"),
                   "models[0] (\"m\"): reasoning_effort_map.xhigh: no "
                   "endpoint accepts \"max\"");
}

static void
reasoning_effort_map_of_the_wrong_shape_is_an_error(void)
{
    expect_refused(MULTI(DEFAULTS ", \"reasoning_effort_map\":"
                         " [\"low\"]", "{\"provider\": \"a\","
                         " \"reasoning_effort\": [\"low\"]}"),
                   "reasoning_effort_map must be an object of strings");
    expect_refused(MULTI(DEFAULTS ", \"reasoning_effort_map\":"
                         " {\"xhigh\": 1}", "{\"provider\": \"a\","
                         " \"reasoning_effort\": [\"low\"]}"),
                   "reasoning_effort_map.xhigh must be a string");
    expect_refused(MULTI(DEFAULTS ", \"reasoning_effort_map\":"
                         " {\"x high\": \"low\"}", "{\"provider\": \"a\","
                         " \"reasoning_effort\": [\"low\"]}"),
                   "reasoning_effort_map: \"x high\" is not a name");
}

static void
reasoning_effort_map_on_an_endpoint_is_an_unknown_member(void)
{
    expect_refused(MULTI(DEFAULTS, "{\"provider\": \"a\","
                         " \"reasoning_effort\": [\"low\"],"
                         " \"reasoning_effort_map\": {\"high\": \"low\"}}"),
                   "models[0].endpoints[0] (\"m\"): unknown member "
                   "\"reasoning_effort_map\"");
}

static void
endpoint_json_shows_the_reasoning_format(void)
{
    fg_catalog_t *cat;
    json_t       *j;

    cat = load_endpoints(MULTI(DEFAULTS, "{\"provider\": \"a\","
                               " \"reasoning_format\": \"thinking\"}"));
    if (cat == NULL) {
        return;
    }
    j = fg_catalog_endpoint_json(&cat->endpoints[0]);
    expect_str_eq(json_string_value(json_object_get(
                      json_object_get(j, "capabilities"),
                      "reasoning_format")), "thinking");
    json_decref(j);
    fg_catalog_free(cat);
}

static void
base_url_must_be_http(void)
{
    fg_err_t err;

    expect_true(load("{\"providers\": [{\"id\": \"p\", \"base_url\":"
                     " \"file:///etc/passwd\"}]}", "{\"models\": []}",
                     &err) == NULL);
    unlink(providers_path);
    unlink(models_path);
}

FG_TEST_MAIN("catalog",
    FG_TEST_CASE(shipped_catalogs_load),
    FG_TEST_CASE(provider_is_enabled_only_when_its_key_variable_is_set),
    FG_TEST_CASE(base_url_loses_its_trailing_slash_and_headers_become_lines),
    FG_TEST_CASE(provider_slash_model_routes_by_public_or_upstream_id),
    FG_TEST_CASE(provider_slash_model_takes_the_first_match_in_catalog_order),
    FG_TEST_CASE(a_provider_id_with_a_slash_is_not_a_route_prefix),
    FG_TEST_CASE(routing_finds_every_model_of_a_large_catalog),
    FG_TEST_CASE(cached_price_defaults_to_the_prompt_price),
    FG_TEST_CASE(unknown_field_in_a_model_is_an_error),
    FG_TEST_CASE(model_of_an_unknown_provider_is_an_error),
    FG_TEST_CASE(duplicate_provider_id_is_an_error),
    FG_TEST_CASE(a_single_provider_model_has_one_endpoint_of_its_fields),
    FG_TEST_CASE(endpoints_inherit_what_they_do_not_give_from_the_model),
    FG_TEST_CASE(an_endpoint_overrides_the_model),
    FG_TEST_CASE(provider_and_endpoints_together_are_an_error),
    FG_TEST_CASE(neither_provider_nor_endpoints_is_an_error),
    FG_TEST_CASE(two_endpoints_at_one_provider_are_an_error),
    FG_TEST_CASE(more_endpoints_than_the_bound_are_an_error),
    FG_TEST_CASE(endpoint_of_an_unknown_provider_is_an_error_naming_it),
    FG_TEST_CASE(unknown_member_of_an_endpoint_is_an_error_naming_it),
    FG_TEST_CASE(endpoint_without_window_or_pricing_and_no_default_is_an_error_naming_it),
    FG_TEST_CASE(model_summary_takes_the_widest_window_any_capability_and_the_cheapest),
    FG_TEST_CASE(a_disabled_providers_endpoint_is_left_out_of_the_summary),
    FG_TEST_CASE(a_model_is_found_while_one_of_its_endpoints_is_enabled),
    FG_TEST_CASE(provider_slash_model_resolves_pinned_to_that_provider),
    FG_TEST_CASE(provider_slash_upstream_id_resolves_pinned_to_that_provider),
    FG_TEST_CASE(qualified_name_of_a_disabled_endpoint_is_not_found),
    FG_TEST_CASE(catalog_endpoint_finds_a_models_endpoint_by_provider),
    FG_TEST_CASE(quality_defaults_and_must_be_within_0_and_100),
    FG_TEST_CASE(model_json_has_the_price_range_the_endpoint_count_and_the_quality),
    FG_TEST_CASE(endpoint_json_describes_one_endpoint),
    FG_TEST_CASE(reasoning_format_defaults_to_reasoning_effort_for_an_endpoint_with_values),
    FG_TEST_CASE(reasoning_format_is_inherited_from_the_model_and_overridden),
    FG_TEST_CASE(an_unknown_reasoning_format_is_an_error_naming_the_member),
    FG_TEST_CASE(reasoning_format_reasoning_effort_without_values_is_an_error),
    FG_TEST_CASE(reasoning_effort_map_is_the_models),
    FG_TEST_CASE(reasoning_effort_map_to_a_value_no_endpoint_accepts_is_an_error),
    FG_TEST_CASE(reasoning_effort_map_of_the_wrong_shape_is_an_error),
    FG_TEST_CASE(reasoning_effort_map_on_an_endpoint_is_an_unknown_member),
    FG_TEST_CASE(endpoint_json_shows_the_reasoning_format),
    FG_TEST_CASE(base_url_must_be_http))
