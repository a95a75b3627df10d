/*
 * bench_route.c: what planning a request's route costs (common/route/
 * router.h): fg_route_plan for a model with one endpoint and for one with
 * five, balanced preset, a chat request with tools and a fallback-free
 * key, each call with another @random. Each figure is the best of three
 * rounds' means. Prints one line a figure. Not a test: run by
 * `make bench`.
 *
 * Against a live health table (every endpoint bound and measured, as a
 * node sees them after some traffic): one read of the table per
 * endpoint, as in the worker.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/route/router.h"

#define CALLS   1000000
#define ROUNDS  3
#define WIDE    5

static fg_provider_t providers[WIDE];
static fg_endpoint_t endpoints[WIDE + 1];
static fg_endpoint_t *narrow_ptrs[1], *wide_ptrs[WIDE];
static fg_model_t    narrow, wide;
static fg_health_t  *health;

/* Binds every endpoint and gives it a few measured successes. */
static void
health_table(void)
{
    fg_health_conf_t conf = { 5, 50, 10, 60000, 30000 };
    size_t           i;
    int              k;

    health = fg_health_init(malloc(fg_health_size(64)), 64);
    for (i = 0; i < WIDE + 1; i++) {
        endpoints[i].health_slot = fg_health_bind(
            health, endpoints[i].provider->id, endpoints[i].model->id);
        for (k = 0; k < 8; k++) {
            if (fg_health_begin(health, endpoints[i].health_slot, &conf,
                                1000)) {
                fg_health_end(health, endpoints[i].health_slot, &conf, 1000,
                              FG_ATTEMPT_STATUS, 1, 0, 300.0 + 20 * i,
                              60.0 + 5 * i);
            }
        }
    }
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Endpoint @i of @m at provider @p, its prices and grams set apart. */
static void
endpoint(fg_endpoint_t *e, fg_model_t *m, fg_provider_t *p, int i)
{
    e->model = m;
    e->provider = p;
    e->upstream_id = m->id;
    e->context_window = 128000;
    e->max_output_tokens = 16384;
    e->supports_vision = 1;
    e->supports_tools = 1;
    e->supports_json_schema = 1;
    e->apis = FG_API_CHAT;
    e->quantization = "fp8";
    e->prompt_per_mtok_micro = 150000 + 10000 * i;
    e->completion_per_mtok_micro = 600000 - 20000 * i;
    e->location = "US";
    e->carbon_intensity = 300 + 40 * i;
    e->co2_g_per_mtok_prompt = 20 + i;
    e->co2_g_per_mtok_completion = 200 - 7 * i;
    e->health_slot = -1;
}

static void
catalog(void)
{
    static char *ids[WIDE] = { "alpha", "beta", "gamma", "delta",
                               "epsilon" };
    int          i;

    for (i = 0; i < WIDE; i++) {
        providers[i].id = ids[i];
        providers[i].is_enabled = 1;
    }
    narrow.id = "demo-narrow";
    narrow.quality = FG_CATALOG_QUALITY_DEFAULT;
    narrow.endpoints = narrow_ptrs;
    narrow.endpoint_count = 1;
    endpoint(&endpoints[0], &narrow, &providers[0], 0);
    narrow_ptrs[0] = &endpoints[0];
    wide.id = "demo-wide";
    wide.quality = FG_CATALOG_QUALITY_DEFAULT;
    wide.endpoints = wide_ptrs;
    wide.endpoint_count = WIDE;
    for (i = 0; i < WIDE; i++) {
        endpoint(&endpoints[i + 1], &wide, &providers[i], i);
        wide_ptrs[i] = &endpoints[i + 1];
    }
}

/* The best round's mean ns per fg_route_plan of @model. */
static double
time_plan(const fg_model_t *model, size_t *n_out)
{
    fg_route_conf_t  conf = { FG_ROUTE_EXPECTED_COMPLETION_DEFAULT,
                              { 5, 50, 10, 60000, 30000 } };
    fg_route_prefs_t prefs;
    fg_route_need_t  need;
    fg_route_plan_t  out;
    fg_err_t         err;
    int64_t          retry_after;
    double           t0, best = 0;
    int              round, i;

    fg_route_prefs_init(&prefs);
    prefs.models[0] = model;
    prefs.n_models = 1;
    prefs.preset = FG_PRESET_BALANCED;
    memset(&need, 0, sizeof(need));
    need.api = FG_API_CHAT;
    need.uses_tools = 1;
    need.prompt_upper = 1800;
    need.prompt_lower = 1700;
    need.choices = 1;
    *n_out = 0;
    for (round = 0; round < ROUNDS; round++) {
        t0 = now_s();
        for (i = 0; i < CALLS; i++) {
            if (fg_route_plan(NULL, health, &conf, &prefs, &need, NULL, NULL,
                              1000, (uint64_t) i * 0x9e3779b97f4a7c15ULL,
                              &out, &retry_after, &err) != FG_OK) {
                fprintf(stderr, "bench_route: %s\n", err.msg);
                return -1;
            }
            *n_out += out.n;
        }
        t0 = (now_s() - t0) * 1e9 / CALLS;
        if (round == 0 || t0 < best) {
            best = t0;
        }
    }
    *n_out /= (size_t) ROUNDS * CALLS;
    return best;
}

int
main(void)
{
    const fg_model_t *models[2] = { &narrow, &wide };
    size_t            n;
    double            ns;
    int               i;

    catalog();
    health_table();
    for (i = 0; i < 2; i++) {
        ns = time_plan(models[i], &n);
        if (ns < 0) {
            return 1;
        }
        printf("route: %.0f ns per request, a model with %zu endpoint%s "
               "(balanced, live health table)\n", ns, n, n == 1 ? "" : "s");
    }
    return 0;
}
