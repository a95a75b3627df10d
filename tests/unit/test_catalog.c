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
    FG_TEST_CASE(base_url_must_be_http))
