#ifndef FG_TESTS_UNIT_ROUTER_WORLD_H
#define FG_TESTS_UNIT_ROUTER_WORLD_H

/*
 * The router tests' world: a catalog built by hand (five providers,
 * three models whose endpoints each test shapes, so every figure an order
 * depends on is stated in the test) and a plan() that routes a request
 * over it with the health table @health (NULL unless a test binds one).
 */

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "common/route/router.h"
#include "tests/unit/fg_test.h"

#define STR(z)     ((fg_route_str_t) { (z), sizeof(z) - 1 })
#define PROVIDERS  5
#define MODELS     3
#define NOW        1000000

/* One credit per million tokens, in micro-credits per million. */
#define CREDIT     1000000

typedef struct {
    fg_provider_t  providers[PROVIDERS];
    fg_model_t     models[MODELS];
    fg_endpoint_t  endpoints[MODELS][PROVIDERS];
    fg_endpoint_t *ptrs[MODELS][PROVIDERS];
    fg_catalog_t   catalog;
} world_t;

static world_t      w;
static fg_health_t *health;        /* NULL: none (test_router.c) */
static int64_t      retry_after;   /* the last plan's */

static const char *const provider_ids[PROVIDERS] = {
    "alpha", "beta", "gamma", "delta", "epsilon"
};
static const char *const model_ids[MODELS] = {
    "demo-chat", "demo-reasoner", "demo-small"
};

static inline void
world_free(void)
{
    size_t m, e;

    for (m = 0; m < MODELS; m++) {
        json_decref(w.models[m].reasoning_effort_map);
        for (e = 0; e < PROVIDERS; e++) {
            json_decref(w.endpoints[m][e].reasoning_effort);
            json_decref(w.endpoints[m][e].parameters);
        }
    }
}

/*
 * A fresh catalog: model m has @n endpoints, endpoint e served by
 * provider e. Every endpoint alike: window 8192, output 4096, every
 * capability, fp8 in the US at 400 g/kWh, 1 credit per million prompt
 * tokens and 2 per million completion tokens.
 */
static inline void
world(size_t n)
{
    size_t m, e;

    world_free();
    memset(&w, 0, sizeof(w));
    for (e = 0; e < PROVIDERS; e++) {
        w.providers[e].id = (char *) provider_ids[e];
        w.providers[e].is_enabled = 1;
    }
    for (m = 0; m < MODELS; m++) {
        w.models[m].id = (char *) model_ids[m];
        w.models[m].quality = FG_CATALOG_QUALITY_DEFAULT;
        w.models[m].endpoints = w.ptrs[m];
        w.models[m].endpoint_count = n;
        for (e = 0; e < n; e++) {
            fg_endpoint_t *ep = &w.endpoints[m][e];

            ep->model = &w.models[m];
            ep->provider = &w.providers[e];
            ep->upstream_id = (char *) model_ids[m];
            ep->context_window = 8192;
            ep->max_output_tokens = 4096;
            ep->supports_vision = 1;
            ep->supports_tools = 1;
            ep->supports_json_schema = 1;
            ep->apis = FG_API_CHAT;
            ep->quantization = "fp8";
            ep->prompt_per_mtok_micro = CREDIT;
            ep->cached_prompt_per_mtok_micro = CREDIT / 2;
            ep->completion_per_mtok_micro = 2 * CREDIT;
            ep->location = "US";
            ep->carbon_intensity = 400;
            ep->co2_g_per_mtok_prompt = 10;
            ep->co2_g_per_mtok_completion = 100;
            ep->health_slot = -1;
            w.ptrs[m][e] = ep;
        }
    }
    w.catalog.providers = w.providers;
    w.catalog.provider_count = PROVIDERS;
    w.catalog.models = w.models;
    w.catalog.model_count = MODELS;
    w.catalog.endpoints = &w.endpoints[0][0];
    w.catalog.endpoint_count = MODELS * PROVIDERS;
}

static inline fg_endpoint_t *
ep(size_t model, size_t provider)
{
    return &w.endpoints[model][provider];
}

/* Prefs asking for model 0 alone. */
static inline fg_route_prefs_t
prefs_for(size_t model)
{
    fg_route_prefs_t p;

    fg_route_prefs_init(&p);
    p.models[0] = &w.models[model];
    p.n_models = 1;
    return p;
}

/* A chat request: 100 prompt tokens exactly, no output limit, n = 1. */
static inline fg_route_need_t
need_chat(void)
{
    fg_route_need_t n;

    memset(&n, 0, sizeof(n));
    n.api = FG_API_CHAT;
    n.prompt_upper = 100;
    n.prompt_lower = 100;
    n.choices = 1;
    return n;
}

static const fg_route_conf_t conf = {
    FG_ROUTE_EXPECTED_COMPLETION_DEFAULT, { 5, 50, 10, 60000, 30000 }
};

static inline int
plan_seeded(const fg_route_prefs_t *p, const fg_route_need_t *n,
            uint64_t random, fg_route_plan_t *out, fg_err_t *err)
{
    memset(err, 0, sizeof(*err));
    retry_after = -1;
    return fg_route_plan(&w.catalog, health, &conf, p, n, NULL, NULL, NOW,
                         random, out, &retry_after, err);
}

static inline int
plan(const fg_route_prefs_t *p, const fg_route_need_t *n,
     fg_route_plan_t *out, fg_err_t *err)
{
    return plan_seeded(p, n, 42, out, err);
}

/* @out's candidates, "alpha,beta,..." or with @models
 * "demo-chat/alpha,...". */
static inline const char *
plan_str(const fg_route_plan_t *out, int models)
{
    static char buf[512];
    size_t      i, len = 0;

    buf[0] = '\0';
    for (i = 0; i < out->n; i++) {
        const fg_endpoint_t *e = out->c[i].endpoint;

        len += (size_t) snprintf(buf + len, sizeof(buf) - len, "%s%s%s%s",
                                 i > 0 ? "," : "",
                                 models ? e->model->id : "",
                                 models ? "/" : "", e->provider->id);
    }
    return buf;
}

#define providers_of(out)  plan_str((out), 0)
#define endpoints_of(out)  plan_str((out), 1)

/* The plan of @p and @n is the providers @want, in that order. */
#define expect_route(p, n, want)                                            \
    do {                                                                    \
        fg_route_plan_t out_;                                               \
        fg_err_t        err_;                                               \
                                                                            \
        expect_int_eq(plan((p), (n), &out_, &err_), FG_OK);                 \
        expect_str_eq(providers_of(&out_), (want));                         \
    } while (0)

/* @p and @n are refused with @ecode naming @eparam. */
#define expect_refusal(p, n, ecode, eparam)                                   \
    do {                                                                    \
        fg_route_plan_t out_;                                               \
        fg_err_t        err_;                                               \
                                                                            \
        expect_int_eq(plan((p), (n), &out_, &err_), FG_ERR);                \
        expect_int_eq(err_.code, (ecode));                                  \
        expect_str_eq(err_.param, (eparam));                                \
    } while (0)

static inline json_t *
strings(const char *a, const char *b, const char *c)
{
    json_t *arr = json_array();

    if (a != NULL) {
        json_array_append_new(arr, json_string(a));
    }
    if (b != NULL) {
        json_array_append_new(arr, json_string(b));
    }
    if (c != NULL) {
        json_array_append_new(arr, json_string(c));
    }
    return arr;
}

#endif
