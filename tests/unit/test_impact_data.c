/*
 * test_impact_data.c: the shipped impact tables load and cover every model
 * and provider of the shipped catalogs, estimates through them reproduce
 * the reference cases that match a shipped provider, and malformed tables
 * are refused with a message naming the file and the entry.
 *
 * Runs from the repository root, or wherever FG_SRC_DIR points.
 */

#include "common/accounts/impact_data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base/catalog.h"
#include "tests/unit/fg_test.h"

#define expect_rel(got, want, tol)                                          \
    do {                                                                    \
        double fg_g_ = (got), fg_w_ = (want);                               \
        if (!(fabs(fg_g_ - fg_w_) <= (tol) * fabs(fg_w_))) {                \
            FG_TEST_FAIL("%s: got %.6g, expected %.6g", #got, fg_g_,        \
                         fg_w_);                                            \
        }                                                                   \
    } while (0)

#define expect_msg(err, text)                                               \
    do {                                                                    \
        if (strstr((err).msg, (text)) == NULL) {                            \
            FG_TEST_FAIL("message \"%s\" lacks \"%s\"", (err).msg, (text)); \
        }                                                                   \
    } while (0)

static char src_path[512];

/* A path under the source tree. */
static const char *
src(const char *rel)
{
    const char *root = getenv("FG_SRC_DIR");

    snprintf(src_path, sizeof(src_path), "%s%s%s", root ? root : "",
             root ? "/" : "", rel);
    return src_path;
}

/* The shipped catalogs and, loaded against their ids, the shipped tables. */
typedef struct {
    fg_catalog_t     *cat;
    const char      **model_ids;
    const char      **provider_ids;
    fg_impact_data_t *data;
} shipped_t;

static void
shipped_open(shipped_t *s)
{
    char     providers[512];
    fg_err_t err;
    size_t   i;

    memset(s, 0, sizeof(*s));
    snprintf(providers, sizeof(providers), "%s", src("etc/providers.json"));
    s->cat = fg_catalog_load(providers, src("etc/models.json"), &err);
    if (s->cat == NULL) {
        FG_TEST_FAIL("catalog: %s", err.msg);
        return;
    }
    s->model_ids = calloc(s->cat->model_count + 1, sizeof(char *));
    s->provider_ids = calloc(s->cat->provider_count + 1, sizeof(char *));
    for (i = 0; i < s->cat->model_count; i++) {
        s->model_ids[i] = s->cat->models[i].id;
    }
    for (i = 0; i < s->cat->provider_count; i++) {
        s->provider_ids[i] = s->cat->providers[i].id;
    }
    s->data = fg_impact_data_load(src("etc/impact"), s->model_ids,
                                  s->cat->model_count, s->provider_ids,
                                  s->cat->provider_count, &err);
    if (s->data == NULL) {
        FG_TEST_FAIL("impact tables: %s", err.msg);
    }
}

static void
shipped_close(shipped_t *s)
{
    fg_impact_data_free(s->data);
    free(s->model_ids);
    free(s->provider_ids);
    fg_catalog_free(s->cat);
}

static void
shipped_tables_cover_every_catalog_model_and_provider(void)
{
    shipped_t                   s;
    const fg_impact_model_t    *m;
    const fg_impact_provider_t *p;
    size_t                      i;

    shipped_open(&s);
    if (s.data == NULL) {
        shipped_close(&s);
        return;
    }
    expect_true(s.cat->model_count >= 16);
    for (i = 0; i < s.cat->model_count; i++) {
        m = fg_impact_data_model(s.data, s.model_ids[i]);
        expect_true(m != NULL);
        if (m == NULL) {
            FG_TEST_FAIL("no impact data for model \"%s\"", s.model_ids[i]);
            continue;
        }
        expect_true(m->active_b.min > 0);
        expect_true(m->total_b.min >= m->active_b.min);
        expect_true(m->quant_bits >= 1 && m->quant_bits <= 32);
    }
    for (i = 0; i < s.cat->provider_count; i++) {
        p = fg_impact_data_provider(s.data, s.provider_ids[i]);
        expect_true(p != NULL);
        if (p == NULL) {
            FG_TEST_FAIL("no impact data for provider \"%s\"",
                         s.provider_ids[i]);
            continue;
        }
        expect_true(p->country != NULL);
        expect_true(p->pue.min >= 1);
    }
    expect_true(fg_impact_data_country(s.data, "WORLD") != NULL);
    shipped_close(&s);
}

static void
shipped_tables_mark_demo_closed_and_unknown_models(void)
{
    shipped_t                s;
    const fg_impact_model_t *m;

    shipped_open(&s);
    if (s.data == NULL) {
        shipped_close(&s);
        return;
    }
    m = fg_impact_data_model(s.data, "demo-chat");
    expect_true(m != NULL && m->is_demo);
    m = fg_impact_data_model(s.data, "demo-reasoner");
    expect_true(m != NULL && m->is_demo
                && m->size_class == FG_IMPACT_SIZE_MEDIUM);
    m = fg_impact_data_model(s.data, "gpt-4o");
    expect_true(m != NULL && m->active_b.min == 44 && m->active_b.max == 132
                && m->total_b.min == 440);
    m = fg_impact_data_model(s.data, "local/default");
    expect_true(m != NULL && m->size_class == FG_IMPACT_SIZE_SMALL);
    /* One line of data, several catalog ids. */
    expect_true(fg_impact_data_model(s.data, "openrouter/openai/gpt-4o-mini")
                == fg_impact_data_model(s.data, "gpt-4o-mini"));
    expect_true(fg_impact_data_model(s.data, "deepseek-chat")
                == fg_impact_data_model(s.data, "deepseek-reasoner"));
    expect_true(fg_impact_data_model(s.data, "no-such-model") == NULL);
    shipped_close(&s);
}

static void
shipped_tables_reproduce_the_reference_cases(void)
{
    shipped_t         s;
    fg_impact_usage_t u = { 0, 0, 0, 0 };
    fg_impact_t       r;
    fg_err_t          err;

    shipped_open(&s);
    if (s.data == NULL) {
        shipped_close(&s);
        return;
    }
    /* C3: Mistral Small on mistral (Azure Sweden), latency fit. */
    u.completion_tokens = 400;
    expect_int_eq(fg_impact_data_estimate(s.data, "mistral-small-latest",
                                          "mistral", &u, 0, &r, &err),
                  FG_OK);
    expect_rel(r.mid.energy_kwh * 1000, 0.04179, 0.005);
    expect_rel(r.mid.carbon_g_co2, 0.00150, 0.005);
    expect_rel(r.mid.water_liters * 1000, 0.2962, 0.005);
    expect_rel(r.renewable_percent, 69, 1e-12);
    expect_int_eq(r.is_estimated, 0);

    /* C4: Mistral Large 2, deployment latency. */
    u.measured_s = 1.05 + 400 / 36.9;
    expect_int_eq(fg_impact_data_estimate(s.data, "mistral-large-latest",
                                          "mistral", &u, 0, &r, &err),
                  FG_OK);
    expect_rel(r.mid.energy_kwh * 1000, 0.24113, 0.005);
    expect_rel(r.mid.water_liters * 1000, 1.7088, 0.005);

    /* C5: Llama-3.1-70B at openai's PUE/WUE on the US grid, 6 s. */
    u.completion_tokens = 300;
    u.measured_s = 6;
    expect_int_eq(fg_impact_data_estimate(s.data, "llama-3.1-70b", "openai",
                                          &u, 0, &r, &err), FG_OK);
    expect_rel(r.mid.energy_kwh * 1000, 0.13496, 0.005);
    expect_rel(r.mid.carbon_g_co2, 0.05176, 0.005);
    expect_rel(r.mid.water_liters * 1000, 0.5840, 0.005);
    shipped_close(&s);
}

static void
estimated_flag_follows_model_and_provider(void)
{
    shipped_t         s;
    fg_impact_usage_t u = { 100, 0, 200, 3 };
    fg_impact_t       r;
    fg_err_t          err;

    shipped_open(&s);
    if (s.data == NULL) {
        shipped_close(&s);
        return;
    }
    fg_impact_data_estimate(s.data, "gpt-4o", "openai", &u,
                            FG_IMPACT_PREFILL, &r, &err);
    expect_int_eq(r.is_estimated, 1);             /* closed: a range */
    expect_int_eq(r.is_range, 1);
    expect_rel(r.active_b, 88, 1e-12);
    fg_impact_data_estimate(s.data, "demo-chat", "demo", &u,
                            FG_IMPACT_PREFILL, &r, &err);
    expect_int_eq(r.is_estimated, 1);             /* made up */
    expect_int_eq(r.is_range, 0);
    fg_impact_data_estimate(s.data, "local/default", "local", &u,
                            FG_IMPACT_PREFILL, &r, &err);
    expect_int_eq(r.is_estimated, 1);             /* size class */
    expect_rel(r.active_b, 5.5, 1e-12);
    fg_impact_data_estimate(s.data, "llama-3.1-8b-instant", "groq", &u,
                            FG_IMPACT_PREFILL, &r, &err);
    expect_int_eq(r.is_estimated, 1);             /* assumed provider */
    fg_impact_data_estimate(s.data, "mistral-small-latest", "mistral", &u,
                            FG_IMPACT_PREFILL, &r, &err);
    expect_int_eq(r.is_estimated, 0);
    expect_true(r.mid.energy_kwh > 0);
    shipped_close(&s);
}

static void
unknown_model_or_provider_is_not_found_at_estimate(void)
{
    shipped_t         s;
    fg_impact_usage_t u = { 1, 0, 1, 0 };
    fg_impact_t       r;
    fg_err_t          err;

    shipped_open(&s);
    if (s.data == NULL) {
        shipped_close(&s);
        return;
    }
    expect_int_eq(fg_impact_data_estimate(s.data, "nope", "openai", &u, 0,
                                          &r, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_NOT_FOUND);
    expect_msg(err, "model \"nope\"");
    expect_int_eq(fg_impact_data_estimate(s.data, "gpt-4o", "nope", &u, 0,
                                          &r, &err), FG_ERR);
    expect_msg(err, "provider \"nope\"");
    expect_true(r.mid.energy_kwh == 0);
    shipped_close(&s);
}

static void
size_classes_map_to_documented_ranges(void)
{
    fg_impact_range_t a = { 0, 0 }, t = { 0, 0 };

    expect_int_eq(fg_impact_size_class("small", &a, &t),
                  FG_IMPACT_SIZE_SMALL);
    expect_true(a.min == 1 && a.max == 10 && t.min == 1 && t.max == 10);
    expect_int_eq(fg_impact_size_class("medium", &a, &t),
                  FG_IMPACT_SIZE_MEDIUM);
    expect_true(a.min == 10 && a.max == 40);
    expect_int_eq(fg_impact_size_class("large", &a, &t),
                  FG_IMPACT_SIZE_LARGE);
    expect_true(a.min == 40 && a.max == 150);
    expect_int_eq(fg_impact_size_class("xlarge", &a, &t),
                  FG_IMPACT_SIZE_XLARGE);
    expect_true(a.min == 30 && a.max == 140 && t.min == 150 && t.max == 700);
    expect_int_eq(fg_impact_size_class("huge", &a, &t), FG_IMPACT_SIZE_NONE);
    expect_true(a.min == 30);                     /* untouched */
}

/* --- malformed tables, in a temporary folder --------------------------- */

#define SOURCES                                                             \
    "\"sources\": [{\"name\": \"n\", \"url\": \"u\", \"licence\": \"l\"}]"
#define COUNTRIES                                                           \
    "{" SOURCES ", \"countries\": [{\"code\": \"SE\", \"name\": \"Sweden\"," \
    " \"ci_g_per_kwh\": 35.82, \"renewable_percent\": 69,"                  \
    " \"wue_grid_l_per_kwh\": 6.0315}]}"
#define PROVIDERS                                                           \
    "{" SOURCES ", \"providers\": [{\"id\": \"p\", \"pue\": 1.16,"          \
    " \"wue_site_l_per_kwh\": [0.09, 0.1], \"country\": \"SE\","            \
    " \"source\": \"s\"}]}"
#define MODELS                                                              \
    "{" SOURCES ", \"models\": [{\"id\": \"m\", \"aliases\": [\"m2\"],"     \
    " \"active_b\": 23.6, \"source\": \"s\"}]}"

static char tmp_dir[64];

/* At exit: the temporary folder goes. */
static void
remove_tmp_dir(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot remove %s\n", tmp_dir);
    }
}

/* The temporary folder, made once. */
static void
tmp_dir_make(void)
{
    if (tmp_dir[0] == '\0') {
        snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/fg-test-impact-XXXXXX");
        if (mkdtemp(tmp_dir) == NULL) {
            FG_TEST_FAIL("mkdtemp failed");
        }
        atexit(remove_tmp_dir);
    }
}

static void
write_text(const char *name, const char *text)
{
    char  path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", tmp_dir, name);
    f = fopen(path, "w");
    if (f == NULL) {
        FG_TEST_FAIL("cannot write %s", path);
        return;
    }
    fputs(text, f);
    fclose(f);
}

/* Loads the three texts against catalog model "m" and provider "p". */
static fg_impact_data_t *
load(const char *countries, const char *providers, const char *models,
     fg_err_t *err)
{
    static const char *model_ids[] = { "m" }, *provider_ids[] = { "p" };

    tmp_dir_make();
    write_text("countries.json", countries);
    write_text("providers.json", providers);
    write_text("models.json", models);
    return fg_impact_data_load(tmp_dir, model_ids, 1, provider_ids, 1, err);
}

/* Expects the load refused, naming @file and containing @text. */
static void
expect_refused(const char *countries, const char *providers,
               const char *models, const char *file, const char *text)
{
    fg_err_t          err;
    fg_impact_data_t *d = load(countries, providers, models, &err);

    expect_true(d == NULL);
    fg_impact_data_free(d);
    if (d == NULL) {
        expect_msg(err, file);
        expect_msg(err, text);
    }
}

static void
minimal_tables_load_and_ranges_parse(void)
{
    fg_err_t                    err;
    fg_impact_data_t           *d = load(COUNTRIES, PROVIDERS, MODELS, &err);
    const fg_impact_provider_t *p;
    const fg_impact_country_t  *c;

    expect_true(d != NULL);
    if (d == NULL) {
        FG_TEST_FAIL("%s", err.msg);
        return;
    }
    p = fg_impact_data_provider(d, "p");
    expect_true(p->wue_site_l_per_kwh.min == 0.09
                && p->wue_site_l_per_kwh.max == 0.1);
    expect_int_eq(p->is_assumed, 0);
    c = p->country;
    expect_str_eq(c->code, "SE");
    expect_true(c->ci_em_g_per_kwh == -1 && c->carbon_free_percent == -1);
    expect_true(fg_impact_data_model(d, "m2") == fg_impact_data_model(d, "m"));
    expect_int_eq(fg_impact_data_model(d, "m")->quant_bits, 16);
    expect_true(fg_impact_data_model(d, "m")->total_b.max == 23.6);
    fg_impact_data_free(d);
}

static void
unknown_fields_are_refused_naming_file_and_entry(void)
{
    expect_refused("{" SOURCES ", \"countries\": [{\"code\": \"SE\","
                   " \"name\": \"S\", \"ci_g_per_kwh\": 1,"
                   " \"renewable_percent\": 1, \"wue_grid_l_per_kwh\": 1,"
                   " \"ci\": 3}]}", PROVIDERS, MODELS,
                   "countries.json: countries[0]", "ci");
    expect_refused(COUNTRIES, "{" SOURCES ", \"providers\": [{\"id\": \"p\","
                   " \"pue\": 1.2, \"wue\": 1, \"wue_site_l_per_kwh\": 1,"
                   " \"country\": \"SE\", \"source\": \"s\"}]}", MODELS,
                   "providers.json: providers[0]", "wue");
    expect_refused(COUNTRIES, PROVIDERS, "{" SOURCES ", \"models\":"
                   " [{\"id\": \"m\", \"active_b\": 1, \"params\": 2,"
                   " \"source\": \"s\"}]}", "models.json: models[0]",
                   "params");
    expect_refused(COUNTRIES, PROVIDERS, "{" SOURCES ", \"models\": [],"
                   " \"extra\": 1}", "models.json", "extra");
}

static void
model_without_parameters_or_size_class_is_refused(void)
{
    expect_refused(COUNTRIES, PROVIDERS, "{" SOURCES ", \"models\":"
                   " [{\"id\": \"m\", \"source\": \"s\"}]}",
                   "models.json: models[0] (\"m\")",
                   "neither active_b nor size_class");
    expect_refused(COUNTRIES, PROVIDERS, "{" SOURCES ", \"models\":"
                   " [{\"id\": \"m\", \"size_class\": \"huge\","
                   " \"source\": \"s\"}]}", "models.json",
                   "size_class \"huge\"");
    expect_refused(COUNTRIES, PROVIDERS, "{" SOURCES ", \"models\":"
                   " [{\"id\": \"m\", \"size_class\": \"small\","
                   " \"active_b\": 3, \"source\": \"s\"}]}", "models.json",
                   "exclusive");
}

static void
catalog_model_or_provider_without_entry_is_refused(void)
{
    expect_refused(COUNTRIES, PROVIDERS, "{" SOURCES ", \"models\":"
                   " [{\"id\": \"other\", \"active_b\": 1,"
                   " \"source\": \"s\"}]}", "models.json",
                   "no entry for catalog model \"m\"");
    expect_refused(COUNTRIES, "{" SOURCES ", \"providers\": [{\"id\": \"q\","
                   " \"pue\": 1.2, \"wue_site_l_per_kwh\": 1, \"country\":"
                   " \"SE\", \"source\": \"s\"}]}", MODELS, "providers.json",
                   "no entry for catalog provider \"p\"");
}

static void
bad_values_are_refused(void)
{
    expect_refused(COUNTRIES, "{" SOURCES ", \"providers\": [{\"id\": \"p\","
                   " \"pue\": 0.9, \"wue_site_l_per_kwh\": 1, \"country\":"
                   " \"SE\", \"source\": \"s\"}]}", MODELS,
                   "providers.json: providers[0] (\"p\")", "pue");
    expect_refused(COUNTRIES, "{" SOURCES ", \"providers\": [{\"id\": \"p\","
                   " \"pue\": [1.3, 1.2], \"wue_site_l_per_kwh\": 1,"
                   " \"country\": \"SE\", \"source\": \"s\"}]}", MODELS,
                   "providers.json", "pue");
    expect_refused(COUNTRIES, "{" SOURCES ", \"providers\": [{\"id\": \"p\","
                   " \"pue\": 1.2, \"wue_site_l_per_kwh\": 1, \"country\":"
                   " \"XX\", \"source\": \"s\"}]}", MODELS, "providers.json",
                   "country \"XX\" is not in countries.json");
    expect_refused(COUNTRIES, PROVIDERS, "{" SOURCES ", \"models\":"
                   " [{\"id\": \"m\", \"active_b\": 40, \"total_b\": 20,"
                   " \"source\": \"s\"}]}", "models.json: models[0] (\"m\")",
                   "less than active_b");
    expect_refused(COUNTRIES, PROVIDERS, "{" SOURCES ", \"models\":"
                   " [{\"id\": \"m\", \"active_b\": [10, 5],"
                   " \"source\": \"s\"}]}", "models.json", "active_b");
    expect_refused(COUNTRIES, PROVIDERS, "{" SOURCES ", \"models\":"
                   " [{\"id\": \"m\", \"active_b\": 1, \"quant_bits\": 0,"
                   " \"source\": \"s\"}]}", "models.json", "quant_bits");
    expect_refused("{" SOURCES ", \"countries\": [{\"code\": \"sweden\","
                   " \"name\": \"S\", \"ci_g_per_kwh\": 1,"
                   " \"renewable_percent\": 1, \"wue_grid_l_per_kwh\": 1}]}",
                   PROVIDERS, MODELS, "countries.json", "ISO 3166");
    expect_refused("{" SOURCES ", \"countries\": [{\"code\": \"SE\","
                   " \"name\": \"S\", \"ci_g_per_kwh\": 1,"
                   " \"renewable_percent\": 101, \"wue_grid_l_per_kwh\": 1}]}",
                   PROVIDERS, MODELS, "countries.json", "percentages");
}

static void
duplicates_are_refused(void)
{
    expect_refused(COUNTRIES, PROVIDERS, "{" SOURCES ", \"models\":"
                   " [{\"id\": \"m\", \"active_b\": 1, \"source\": \"s\"},"
                   " {\"id\": \"n\", \"aliases\": [\"m\"], \"active_b\": 1,"
                   " \"source\": \"s\"}]}", "models.json: models[1] (\"n\")",
                   "alias \"m\" names another entry");
    expect_refused(COUNTRIES, PROVIDERS, "{" SOURCES ", \"models\":"
                   " [{\"id\": \"m\", \"aliases\": [\"x\", \"x\"],"
                   " \"active_b\": 1, \"source\": \"s\"}]}", "models.json",
                   "listed twice");
    expect_refused(COUNTRIES, PROVIDERS, "{" SOURCES ", \"models\":"
                   " [{\"id\": \"m\", \"active_b\": 1, \"source\": \"s\"},"
                   " {\"id\": \"m\", \"active_b\": 2, \"source\": \"s\"}]}",
                   "models.json: models[1]", "duplicate id \"m\"");
    expect_refused("{" SOURCES ", \"countries\": [{\"code\": \"SE\","
                   " \"name\": \"S\", \"ci_g_per_kwh\": 1,"
                   " \"renewable_percent\": 1, \"wue_grid_l_per_kwh\": 1},"
                   " {\"code\": \"SE\", \"name\": \"S\", \"ci_g_per_kwh\": 1,"
                   " \"renewable_percent\": 1, \"wue_grid_l_per_kwh\": 1}]}",
                   PROVIDERS, MODELS, "countries.json: countries[1]",
                   "duplicate code \"SE\"");
}

static void
tables_without_sources_and_licences_are_refused(void)
{
    expect_refused("{\"countries\": []}", PROVIDERS, MODELS,
                   "countries.json", "sources");
    expect_refused(COUNTRIES, "{\"sources\": [], \"providers\": []}", MODELS,
                   "providers.json", "non-empty");
    expect_refused(COUNTRIES, PROVIDERS, "{\"sources\": [{\"name\": \"n\","
                   " \"url\": \"u\"}], \"models\": []}",
                   "models.json: sources[0]", "licence");
}

static void
invalid_json_and_missing_files_are_refused(void)
{
    char              path[128];
    fg_err_t          err;
    fg_impact_data_t *d;

    expect_refused(COUNTRIES, PROVIDERS, "{\"models\": [", "models.json:1:",
                   "");
    expect_refused(COUNTRIES, PROVIDERS, "{" SOURCES ", \"models\": [],"
                   " \"models\": []}", "models.json", "duplicate");
    d = load(COUNTRIES, PROVIDERS, MODELS, &err);
    expect_true(d != NULL);
    fg_impact_data_free(d);
    snprintf(path, sizeof(path), "%s/providers.json", tmp_dir);
    unlink(path);
    {
        static const char *ids[] = { "m" };

        expect_true(fg_impact_data_load(tmp_dir, ids, 1, ids, 0, &err)
                    == NULL);
        expect_msg(err, "providers.json");
    }
}

/* --- endpoints: the catalog's impact figures --------------------------- */

/* The shipped catalog's providers and a models file of @models, with the
 * shipped tables attached; NULL when refused (@err says why). */
static fg_catalog_t *
attached_catalog(const char *models, fg_err_t *err)
{
    char          path[128];
    fg_catalog_t *cat;

    tmp_dir_make();
    snprintf(path, sizeof(path), "%s/catalog-models.json", tmp_dir);
    write_text("catalog-models.json", models);
    cat = fg_catalog_load(src("etc/providers.json"), path, err);
    if (cat == NULL) {
        FG_TEST_FAIL("catalog: %s", err->msg);
        return NULL;
    }
    if (fg_catalog_attach_impact(cat, src("etc/impact"), 0, err) != FG_OK) {
        fg_catalog_free(cat);
        return NULL;
    }
    return cat;
}

/* llama-3.3-70b-versatile at groq (US) and at together moved to @country. */
#define LLAMA_AT(country)                                                   \
    "{\"models\": [{\"id\": \"llama-3.3-70b-versatile\","                   \
    " \"context_window\": 1000, \"max_output_tokens\": 100, \"pricing\":"   \
    " {\"prompt_per_mtok_micro\": 1, \"completion_per_mtok_micro\": 1},"    \
    " \"endpoints\": [{\"provider\": \"groq\"}, {\"provider\":"             \
    " \"together\", \"country\": \"" country "\"}]}]}"

static void
attach_impact_refuses_an_unknown_country_override(void)
{
    fg_err_t      err;
    fg_catalog_t *cat;
    char          path[128];

    tmp_dir_make();
    snprintf(path, sizeof(path), "%s/catalog-models.json", tmp_dir);
    write_text("catalog-models.json", LLAMA_AT("ZZ"));
    cat = fg_catalog_load(src("etc/providers.json"), path, &err);
    expect_true(cat != NULL);
    if (cat == NULL) {
        return;
    }
    expect_int_eq(fg_catalog_attach_impact(cat, src("etc/impact"), 0, &err),
                  FG_ERR);
    expect_msg(err, "model \"llama-3.3-70b-versatile\", endpoint at "
               "\"together\": country \"ZZ\"");
    expect_true(cat->impact == NULL);
    fg_catalog_free(cat);
}

static void
attach_impact_places_each_endpoint_and_prices_its_carbon(void)
{
    fg_err_t             err;
    fg_catalog_t        *cat = attached_catalog(LLAMA_AT("SE"), &err);
    const fg_endpoint_t *us, *se;

    if (cat == NULL) {
        FG_TEST_FAIL("attach: %s", err.msg);
        return;
    }
    us = cat->models[0].endpoints[0];
    se = cat->models[0].endpoints[1];
    expect_str_eq(us->location, "US");
    expect_str_eq(se->location, "SE");
    expect_rel(us->carbon_intensity, 383.55, 1e-9);
    expect_rel(se->carbon_intensity, 35.82, 1e-9);
    /* Same model, same PUE (1.56 both): the grid alone tells them apart. */
    expect_true(se->co2_g_per_mtok_completion > 0);
    expect_rel(se->co2_g_per_mtok_completion / us->co2_g_per_mtok_completion,
               35.82 / 383.55, 1e-6);
    expect_true(se->co2_g_per_mtok_prompt <= us->co2_g_per_mtok_prompt);
    fg_catalog_free(cat);
}

static void
estimate_at_with_a_pue_override_scales_energy(void)
{
    static const fg_impact_usage_t usage = { 1000, 0, 500, 0 };
    fg_err_t                       err;
    fg_impact_data_t              *d;
    fg_impact_t                    base, at;

    d = load(COUNTRIES, PROVIDERS, MODELS, &err);
    if (d == NULL) {
        FG_TEST_FAIL("load: %s", err.msg);
        return;
    }
    expect_int_eq(fg_impact_data_estimate(d, "m", "p", &usage, 0, &base,
                                          &err), FG_OK);
    expect_int_eq(fg_impact_data_estimate_at(d, "m", "p", NULL, 2.32, &usage,
                                             0, &at, &err), FG_OK);
    expect_rel(at.mid.energy_kwh, 2 * base.mid.energy_kwh, 1e-9);
    expect_rel(at.pue, 2.32, 1e-12);
    fg_impact_data_free(d);
}

static void
estimate_at_an_unknown_country_is_not_found(void)
{
    static const fg_impact_usage_t usage = { 1000, 0, 500, 0 };
    fg_err_t                       err;
    fg_impact_data_t              *d;
    fg_impact_t                    out;

    d = load(COUNTRIES, PROVIDERS, MODELS, &err);
    if (d == NULL) {
        FG_TEST_FAIL("load: %s", err.msg);
        return;
    }
    expect_int_eq(fg_impact_data_estimate_at(d, "m", "p", "FR", 0, &usage,
                                             0, &out, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_NOT_FOUND);
    expect_msg(err, "\"FR\"");
    fg_impact_data_free(d);
}

FG_TEST_MAIN("impact_data",
    FG_TEST_CASE(shipped_tables_cover_every_catalog_model_and_provider),
    FG_TEST_CASE(shipped_tables_mark_demo_closed_and_unknown_models),
    FG_TEST_CASE(shipped_tables_reproduce_the_reference_cases),
    FG_TEST_CASE(estimated_flag_follows_model_and_provider),
    FG_TEST_CASE(unknown_model_or_provider_is_not_found_at_estimate),
    FG_TEST_CASE(size_classes_map_to_documented_ranges),
    FG_TEST_CASE(minimal_tables_load_and_ranges_parse),
    FG_TEST_CASE(unknown_fields_are_refused_naming_file_and_entry),
    FG_TEST_CASE(model_without_parameters_or_size_class_is_refused),
    FG_TEST_CASE(catalog_model_or_provider_without_entry_is_refused),
    FG_TEST_CASE(bad_values_are_refused),
    FG_TEST_CASE(duplicates_are_refused),
    FG_TEST_CASE(tables_without_sources_and_licences_are_refused),
    FG_TEST_CASE(invalid_json_and_missing_files_are_refused),
    FG_TEST_CASE(attach_impact_refuses_an_unknown_country_override),
    FG_TEST_CASE(attach_impact_places_each_endpoint_and_prices_its_carbon),
    FG_TEST_CASE(estimate_at_with_a_pue_override_scales_energy),
    FG_TEST_CASE(estimate_at_an_unknown_country_is_not_found))
