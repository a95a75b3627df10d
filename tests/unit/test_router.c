/*
 * test_router.c: the router (common/route/router.h) without a health
 * table (health NULL: every endpoint healthy, unmeasured). The catalog is
 * built by hand: five providers, three models whose endpoints each test
 * shapes, so every figure an order depends on is stated in the test.
 * What needs measured health (open circuits, 503 with Retry-After,
 * min_speed_tps, the speed preset from EWMAs) is in
 * tests/unit/pending/test_router_health.c. The world: router_world.h.
 */

#include "common/route/router.h"

#include <string.h>

#include "tests/unit/router_world.h"

/* -- the small functions ------------------------------------------------ */

static void
test_prefs_init_sets_no_limits_and_allows_fallbacks(void)
{
    fg_route_prefs_t p;

    memset(&p, 0x5a, sizeof(p));
    fg_route_prefs_init(&p);
    expect_int_eq(p.n_models, 0);
    expect_int_eq(p.allow_fallbacks, 1);
    expect_int_eq(p.sort, FG_SORT_NONE);
    expect_int_eq(p.max_price_prompt, -1);
    expect_int_eq(p.max_price_completion, -1);
    expect_int_eq(p.max_input_cost, -1);
    expect_true(p.max_carbon_intensity < 0);
    expect_true(p.min_speed_tps < 0);
    expect_int_eq(p.has_only, 0);
    expect_int_eq(p.preset, FG_PRESET_UNSET);
}

static void
test_preset_names_parse_back(void)
{
    int p;

    for (p = 0; p < FG_PRESET_COUNT; p++) {
        const char *name = fg_route_preset_name((fg_preset_t) p);

        expect_int_eq(fg_route_preset_parse(name, strlen(name)), p);
    }
    expect_str_eq(fg_route_preset_name(FG_PRESET_ENVIRONMENT),
                  "environment");
    expect_int_eq(fg_route_preset_parse("price", 5), FG_PRESET_PRICE);
    expect_int_eq(fg_route_preset_parse("pricey", 6), FG_PRESET_UNSET);
    expect_int_eq(fg_route_preset_parse("pric", 4), FG_PRESET_UNSET);
}

static void
test_expected_cost_caps_completion_at_expected_tokens_times_n(void)
{
    fg_route_need_t n = need_chat();

    world(1);
    n.prompt_upper = 1000;
    n.choices = 2;
    /* 1000 × 1 + min(4096, 500) × 2 × 2 = 3000 micro-credits */
    expect_int_eq(fg_route_expected_cost(ep(0, 0), &n, 500), 3000);
    /* an asked limit below the expectation is the figure */
    n.max_output = 100;
    expect_int_eq(fg_route_expected_cost(ep(0, 0), &n, 500), 1400);
}

static void
test_expected_cost_without_a_limit_uses_the_endpoint_maximum(void)
{
    fg_route_need_t n = need_chat();

    world(1);
    ep(0, 0)->max_output_tokens = 200;
    n.prompt_upper = 0;
    expect_int_eq(fg_route_expected_cost(ep(0, 0), &n, 500), 400);
}

/* -- the presets and sorts ---------------------------------------------- */

static void
test_balanced_is_applied_when_no_preset_is_given(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    world(1);
    p = prefs_for(0);
    expect_int_eq(plan(&p, &n, &out, &err), FG_OK);
    expect_int_eq(out.preset, FG_PRESET_BALANCED);
    expect_int_eq(out.n, 1);
}

static void
test_price_preset_orders_by_expected_cost(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    world(3);
    ep(0, 0)->completion_per_mtok_micro = 3 * CREDIT;
    ep(0, 1)->completion_per_mtok_micro = 1 * CREDIT;
    ep(0, 2)->prompt_per_mtok_micro = 9 * CREDIT;    /* prompt dearest */
    p = prefs_for(0);
    p.preset = FG_PRESET_PRICE;
    expect_int_eq(plan(&p, &n, &out, &err), FG_OK);
    expect_str_eq(providers_of(&out), "beta,alpha,gamma");
    expect_int_eq(out.preset, FG_PRESET_PRICE);
    /* 100 × 1 + 500 × 1 per million, micro-credits */
    expect_int_eq(out.c[0].expected_micro, 600);
    expect_true(out.c[0].score < out.c[1].score);
}

static void
test_environment_preset_orders_by_expected_grams(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    world(3);
    ep(0, 0)->co2_g_per_mtok_completion = 300;
    ep(0, 1)->co2_g_per_mtok_completion = 200;
    ep(0, 2)->co2_g_per_mtok_completion = 50;
    p = prefs_for(0);
    p.preset = FG_PRESET_ENVIRONMENT;
    expect_int_eq(plan(&p, &n, &out, &err), FG_OK);
    expect_str_eq(providers_of(&out), "gamma,beta,alpha");
    /* 100 × 10 / 1e6 + 500 × 50 / 1e6 g */
    expect_true(out.c[0].score > 0.025999 && out.c[0].score < 0.026001);
}

static void
test_speed_preset_without_health_ranks_a_shorter_completion_first(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    world(2);
    ep(0, 1)->max_output_tokens = 100;     /* 100 tokens, not 500 */
    p = prefs_for(0);
    p.preset = FG_PRESET_SPEED;
    expect_int_eq(plan(&p, &n, &out, &err), FG_OK);
    expect_str_eq(providers_of(&out), "beta,alpha");
    /* the priors: 1000 ms to the first token, 50 tokens a second */
    expect_true(out.c[0].score > 2999.99 && out.c[0].score < 3000.01);
    expect_true(out.c[1].score > 10999.99 && out.c[1].score < 11000.01);
}

static void
test_quality_preset_puts_the_better_fallback_model_after_the_model(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    world(1);
    w.models[0].quality = 40;
    w.models[1].quality = 90;
    p = prefs_for(0);
    p.models[1] = &w.models[1];
    p.n_models = 2;
    p.preset = FG_PRESET_QUALITY;
    expect_int_eq(plan(&p, &n, &out, &err), FG_OK);
    expect_str_eq(endpoints_of(&out), "demo-chat/alpha,demo-reasoner/alpha");
    /* quality 40 x 100 and fp8's 8 bits */
    expect_true(out.c[0].score == -4008.0);
}

static void
test_quality_preset_puts_the_less_quantised_endpoint_first(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    world(3);
    ep(0, 0)->quantization = "int4";
    ep(0, 1)->quantization = NULL;          /* counts as 8 bits */
    ep(0, 2)->quantization = "bf16";
    p = prefs_for(0);
    p.preset = FG_PRESET_QUALITY;
    expect_int_eq(plan(&p, &n, &out, &err), FG_OK);
    expect_str_eq(providers_of(&out), "gamma,beta,alpha");
}

static void
test_balanced_preset_weighs_price_speed_and_environment(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    /*
     * Speed is equal without health (0). alpha: cheapest, dirtiest
     * (0.4·0 + 0.3·1 = 0.30); beta: middle price, cleanest (0.4·0.5 =
     * 0.20); gamma: dearest, middle grams (0.4·1 + 0.3·0.5 = 0.55).
     */
    world(3);
    ep(0, 0)->completion_per_mtok_micro = 1 * CREDIT;
    ep(0, 1)->completion_per_mtok_micro = 2 * CREDIT;
    ep(0, 2)->completion_per_mtok_micro = 3 * CREDIT;
    ep(0, 0)->co2_g_per_mtok_completion = 300;
    ep(0, 1)->co2_g_per_mtok_completion = 100;
    ep(0, 2)->co2_g_per_mtok_completion = 200;
    p = prefs_for(0);
    expect_int_eq(plan(&p, &n, &out, &err), FG_OK);
    expect_str_eq(providers_of(&out), "beta,alpha,gamma");
    expect_true(out.c[0].score > 0.1999 && out.c[0].score < 0.2001);
    expect_true(out.c[1].score > 0.2999 && out.c[1].score < 0.3001);
    expect_true(out.c[2].score > 0.5499 && out.c[2].score < 0.5501);
}

static void
test_sort_price_overrides_the_preset(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();

    world(2);
    ep(0, 0)->completion_per_mtok_micro = 5 * CREDIT;
    ep(0, 0)->co2_g_per_mtok_completion = 1;      /* the greenest */
    p = prefs_for(0);
    p.preset = FG_PRESET_ENVIRONMENT;
    p.sort = FG_SORT_PRICE;
    expect_route(&p, &n, "beta,alpha");
}

static void
test_provider_order_comes_first_then_the_rest_by_preset(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();

    world(5);
    ep(0, 0)->completion_per_mtok_micro = 5 * CREDIT;
    ep(0, 1)->completion_per_mtok_micro = 4 * CREDIT;
    ep(0, 2)->completion_per_mtok_micro = 1 * CREDIT;
    ep(0, 3)->completion_per_mtok_micro = 9 * CREDIT;
    ep(0, 4)->completion_per_mtok_micro = 3 * CREDIT;
    p = prefs_for(0);
    p.preset = FG_PRESET_PRICE;
    p.order[0] = STR("delta");
    p.order[1] = STR("nobody");
    p.order[2] = STR("alpha");
    p.n_order = 3;
    expect_route(&p, &n, "delta,alpha,gamma,epsilon,beta");
}

static void
test_allow_fallbacks_false_keeps_only_the_ordered_providers(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();

    world(4);
    p = prefs_for(0);
    p.order[0] = STR("gamma");
    p.order[1] = STR("beta");
    p.n_order = 2;
    p.allow_fallbacks = 0;
    expect_route(&p, &n, "gamma,beta");
}

static void
test_allow_fallbacks_false_with_no_ordered_endpoint_names_the_field(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();

    world(2);
    p = prefs_for(0);
    p.order[0] = STR("epsilon");
    p.n_order = 1;
    p.allow_fallbacks = 0;
    expect_refusal(&p, &n, FG_E_NO_MATCHING_ENDPOINT,
                   "provider.allow_fallbacks");
}

/* -- the preferences and filters ---------------------------------------- */

static void
test_only_keeps_the_listed_providers(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();

    world(4);
    p = prefs_for(0);
    p.preset = FG_PRESET_PRICE;
    ep(0, 3)->completion_per_mtok_micro = CREDIT;
    p.only[0] = STR("beta");
    p.only[1] = STR("delta");
    p.n_only = 2;
    p.has_only = 1;
    expect_route(&p, &n, "delta,beta");
}

static void
test_only_empty_list_excludes_every_endpoint(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    world(2);
    p = prefs_for(0);
    p.has_only = 1;
    expect_int_eq(plan(&p, &n, &out, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_NO_MATCHING_ENDPOINT);
    expect_str_eq(err.param, "provider.only");
    expect_str_eq(err.msg,
                  "No endpoint of the model 'demo-chat' matches "
                  "provider.only.");
}

static void
test_ignore_drops_the_listed_providers(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();

    world(3);
    p = prefs_for(0);
    p.ignore[0] = STR("alpha");
    p.ignore[1] = STR("gamma");
    p.n_ignore = 2;
    expect_route(&p, &n, "beta");
}

static void
test_ignore_matches_whole_ids_only(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();

    world(1);
    p = prefs_for(0);
    p.ignore[0] = STR("alph");
    p.ignore[1] = STR("alphas");
    p.n_ignore = 2;
    expect_route(&p, &n, "alpha");
}

static void
test_pinned_provider_restricts_its_model_to_that_endpoint(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    world(3);
    p = prefs_for(0);
    p.pinned[0] = &w.providers[1];
    p.models[1] = &w.models[1];
    p.n_models = 2;
    p.preset = FG_PRESET_PRICE;
    expect_int_eq(plan(&p, &n, &out, &err), FG_OK);
    /* the fallback model is not pinned: all its providers */
    expect_int_eq(out.n, 4);
    expect_true(out.c[0].endpoint == ep(0, 1));
    expect_true(out.c[1].endpoint->model == &w.models[1]);
    expect_true(out.c[3].endpoint->model == &w.models[1]);
}

static void
test_pinned_provider_that_cannot_serve_falls_to_no_other_provider(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();

    world(3);
    ep(0, 1)->supports_tools = 0;
    n.uses_tools = 1;
    p = prefs_for(0);
    p.pinned[0] = &w.providers[1];
    expect_refusal(&p, &n, FG_E_UNSUPPORTED_PARAMETER, "tools");
}

static void
test_quantizations_keep_the_listed_and_drop_the_unknown(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();

    world(3);
    ep(0, 0)->quantization = "bf16";
    ep(0, 1)->quantization = NULL;
    ep(0, 2)->quantization = "int4";
    p = prefs_for(0);
    p.quantizations[0] = STR("bf16");
    p.quantizations[1] = STR("fp8");
    p.n_quantizations = 2;
    p.has_quantizations = 1;
    expect_route(&p, &n, "alpha");
}

static void
test_max_price_drops_endpoints_above_either_price(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();

    world(3);
    ep(0, 0)->prompt_per_mtok_micro = 3 * CREDIT;
    ep(0, 1)->completion_per_mtok_micro = 5 * CREDIT;
    p = prefs_for(0);
    p.max_price_prompt = 2 * CREDIT;
    p.max_price_completion = 4 * CREDIT;
    expect_route(&p, &n, "gamma");
    p.max_price_completion = CREDIT;
    expect_refusal(&p, &n, FG_E_NO_MATCHING_ENDPOINT, "provider.max_price");
}

static void
test_countries_keep_the_listed_locations(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();

    world(4);
    ep(0, 0)->location = "FR";
    ep(0, 1)->location = "DE";
    ep(0, 2)->location = NULL;
    ep(0, 3)->location = "fr";      /* case-sensitive: not FR */
    p = prefs_for(0);
    p.countries[0] = STR("FR");
    p.n_countries = 1;
    p.has_countries = 1;
    expect_route(&p, &n, "alpha");
}

static void
test_max_carbon_intensity_drops_the_dirtier_and_the_unknown(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();

    world(3);
    ep(0, 0)->carbon_intensity = 50;
    ep(0, 1)->carbon_intensity = -1;
    ep(0, 2)->carbon_intensity = 120;
    p = prefs_for(0);
    p.max_carbon_intensity = 100;
    expect_route(&p, &n, "alpha");
}

static void
test_max_input_cost_drops_by_the_prompt_price(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();

    world(2);
    ep(0, 0)->prompt_per_mtok_micro = 2 * CREDIT;
    ep(0, 1)->completion_per_mtok_micro = 50 * CREDIT;  /* not counted */
    p = prefs_for(0);
    p.max_input_cost = CREDIT;
    expect_route(&p, &n, "beta");
}

static void
test_require_parameters_drops_endpoints_missing_a_field(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    world(3);
    ep(0, 0)->parameters = strings("temperature", "seed", NULL);
    ep(0, 1)->parameters = strings("temperature", NULL, NULL);
    /* gamma: no list, every field */
    n.params[0] = STR("seed");
    n.params[1] = STR("temperature");
    n.n_params = 2;
    p = prefs_for(0);
    p.require_parameters = 1;
    expect_int_eq(plan(&p, &n, &out, &err), FG_OK);
    expect_int_eq(out.n, 2);
    expect_true(out.c[0].endpoint != ep(0, 1));
    expect_true(out.c[1].endpoint != ep(0, 1));
}

static void
test_require_parameters_off_keeps_endpoints_missing_a_field(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    world(1);
    ep(0, 0)->parameters = strings("temperature", NULL, NULL);
    n.params[0] = STR("seed");
    n.n_params = 1;
    p = prefs_for(0);
    expect_int_eq(plan(&p, &n, &out, &err), FG_OK);
    expect_int_eq(out.n, 1);
}

static void
test_require_parameters_with_too_many_fields_drops_listing_endpoints(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    world(2);
    ep(0, 0)->parameters = strings("temperature", NULL, NULL);
    n.params_overflow = 1;
    p = prefs_for(0);
    p.require_parameters = 1;
    expect_route(&p, &n, "beta");
    ep(0, 1)->parameters = strings("seed", NULL, NULL);
    expect_int_eq(plan(&p, &n, &out, &err), FG_ERR);
    expect_str_eq(err.param, "provider.require_parameters");
}

static void
test_preference_error_names_the_last_field_that_dropped_one(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();

    world(3);
    ep(0, 2)->location = "DE";
    p = prefs_for(0);
    p.ignore[0] = STR("alpha");
    p.n_ignore = 1;
    p.max_price_prompt = 0;          /* drops beta and gamma... */
    ep(0, 2)->prompt_per_mtok_micro = 0;
    p.countries[0] = STR("US");      /* ...gamma is free, but in DE */
    p.n_countries = 1;
    p.has_countries = 1;
    expect_refusal(&p, &n, FG_E_NO_MATCHING_ENDPOINT, "filters.countries");
}

/* -- the capabilities --------------------------------------------------- */

static void
test_reasoning_effort_drops_endpoints_without_the_value(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();

    world(3);
    ep(1, 0)->reasoning_effort = strings("low", "medium", NULL);
    ep(1, 1)->reasoning_effort = strings("low", "medium", "high");
    ep(1, 2)->reasoning_effort = json_array();      /* accepts none */
    n.reasoning_effort = STR("high");
    p = prefs_for(1);
    expect_route(&p, &n, "beta");
}

static void
test_reasoning_effort_nowhere_accepted_names_the_accepted_values(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    world(3);
    ep(1, 0)->reasoning_effort = strings("low", "medium", NULL);
    ep(1, 1)->reasoning_effort = strings("medium", "high", NULL);
    /* gamma: none */
    n.reasoning_effort = STR("max");
    p = prefs_for(1);
    expect_int_eq(plan(&p, &n, &out, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_UNSUPPORTED_PARAMETER);
    expect_str_eq(err.param, "reasoning_effort");
    expect_str_eq(err.msg, "reasoning_effort 'max' is not supported by "
                           "demo-reasoner; it accepts: low, medium, high");
}

static void
test_reasoning_effort_keeps_an_endpoint_accepting_what_the_map_sends(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();

    world(3);
    w.models[1].reasoning_effort_map = json_pack("{s:s}", "xhigh", "high");
    ep(1, 0)->reasoning_effort = strings("low", "medium", NULL);
    ep(1, 1)->reasoning_effort = strings("low", "high", NULL);
    ep(1, 2)->reasoning_effort = strings("xhigh", NULL, NULL);
    n.reasoning_effort = STR("xhigh");
    p = prefs_for(1);
    p.order[0] = STR("gamma");
    p.order[1] = STR("beta");
    p.n_order = 2;
    expect_route(&p, &n, "gamma,beta");
}

static void
test_reasoning_effort_sent_is_the_asked_else_the_mapped_value(void)
{
    const char *sent;
    size_t      len = 0;

    world(2);
    w.models[1].reasoning_effort_map = json_pack("{s:s, s:s}", "xhigh",
                                                 "high", "low", "medium");
    ep(1, 0)->reasoning_effort = strings("low", "high", NULL);
    ep(1, 1)->reasoning_effort = strings("medium", NULL, NULL);
    /* Accepted as asked: the request's own bytes. */
    sent = fg_route_reasoning_effort(ep(1, 0), STR("low"), &len);
    expect_true(sent != NULL && len == 3 && memcmp(sent, "low", 3) == 0);
    sent = fg_route_reasoning_effort(ep(1, 0), STR("xhigh"), &len);
    expect_true(sent != NULL && len == 4 && memcmp(sent, "high", 4) == 0);
    sent = fg_route_reasoning_effort(ep(1, 1), STR("low"), &len);
    expect_true(sent != NULL && len == 6 && memcmp(sent, "medium", 6) == 0);
    /* Mapped to a value this endpoint does not accept, or not mapped. */
    expect_true(fg_route_reasoning_effort(ep(1, 1), STR("xhigh"), &len)
                == NULL);
    expect_true(fg_route_reasoning_effort(ep(1, 0), STR("minimal"), &len)
                == NULL);
    /* A model without a map takes what its endpoints list. */
    ep(0, 0)->reasoning_effort = strings("low", NULL, NULL);
    expect_true(fg_route_reasoning_effort(ep(0, 0), STR("xhigh"), &len)
                == NULL);
}

static void
test_reasoning_effort_nowhere_accepted_names_the_mapped_values_too(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    world(2);
    w.models[1].reasoning_effort_map = json_pack("{s:s, s:s}", "minimal",
                                                 "low", "xhigh", "high");
    ep(1, 0)->reasoning_effort = strings("low", "medium", NULL);
    ep(1, 1)->reasoning_effort = strings("medium", "high", NULL);
    n.reasoning_effort = STR("max");
    p = prefs_for(1);
    expect_int_eq(plan(&p, &n, &out, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_UNSUPPORTED_PARAMETER);
    expect_str_eq(err.param, "reasoning_effort");
    expect_str_eq(err.msg, "reasoning_effort 'max' is not supported by "
                           "demo-reasoner; it accepts: low, medium, high, "
                           "and maps minimal to low, xhigh to high");
}

static void
test_tools_supported_nowhere_is_unsupported_parameter(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();

    world(2);
    ep(0, 0)->supports_tools = 0;
    n.uses_tools = 1;
    p = prefs_for(0);
    expect_route(&p, &n, "beta");
    ep(0, 1)->supports_tools = 0;
    expect_refusal(&p, &n, FG_E_UNSUPPORTED_PARAMETER, "tools");
}

static void
test_json_schema_supported_nowhere_names_response_format(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();

    world(2);
    ep(0, 0)->supports_json_schema = 0;
    n.uses_json_schema = 1;
    p = prefs_for(0);
    expect_route(&p, &n, "beta");
    ep(0, 1)->supports_json_schema = 0;
    expect_refusal(&p, &n, FG_E_UNSUPPORTED_PARAMETER, "response_format");
}

static void
test_images_without_vision_are_unsupported_image_input(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    world(2);
    ep(0, 0)->supports_vision = 0;
    ep(0, 1)->supports_vision = 0;
    n.has_images = 1;
    p = prefs_for(0);
    expect_int_eq(plan(&p, &n, &out, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_UNSUPPORTED_IMAGE_INPUT);
    expect_str_eq(err.param, "messages");
    expect_str_eq(err.msg, "Invalid content type. image_url is only "
                           "supported by certain models; demo-chat does "
                           "not accept images.");
}

static void
test_an_api_served_nowhere_is_no_matching_endpoint_for_the_model(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();

    world(2);
    ep(0, 1)->apis = FG_API_CHAT | FG_API_RESPONSES;
    n.api = FG_API_RESPONSES;
    p = prefs_for(0);
    expect_route(&p, &n, "beta");
    n.api = FG_API_EMBEDDINGS;
    expect_refusal(&p, &n, FG_E_NO_MATCHING_ENDPOINT, "model");
}

/* -- the window --------------------------------------------------------- */

static void
test_window_too_small_is_context_length_exceeded_at_the_widest(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    world(2);
    ep(0, 0)->context_window = 4096;
    n.prompt_lower = 7000;
    n.prompt_upper = 7100;
    n.max_output = 2000;
    p = prefs_for(0);
    expect_int_eq(plan(&p, &n, &out, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_CONTEXT_LENGTH_EXCEEDED);
    expect_str_eq(err.param, "messages");
    expect_str_eq(err.msg, "This model's maximum context length is 8192 "
                           "tokens. However, you requested 9000 tokens "
                           "(at least 7000 in the messages, 2000 in the "
                           "completion). Please reduce the length of the "
                           "messages or completion.");
}

static void
test_window_filled_by_the_prompt_alone_says_so(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    world(1);
    n.prompt_lower = 8192;
    n.prompt_upper = 8192;
    p = prefs_for(0);
    expect_int_eq(plan(&p, &n, &out, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_CONTEXT_LENGTH_EXCEEDED);
    expect_str_eq(err.msg, "This model's maximum context length is 8192 "
                           "tokens. However, your messages resulted in "
                           "8192 tokens. Please reduce the length of the "
                           "messages.");
}

static void
test_window_drops_the_narrow_endpoint_and_keeps_the_wide(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();

    world(2);
    ep(0, 1)->context_window = 128000;
    n.prompt_lower = 9000;
    n.prompt_upper = 9000;
    p = prefs_for(0);
    expect_route(&p, &n, "beta");
}

static void
test_output_above_the_endpoint_maximum_drops_it(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();

    world(2);
    ep(0, 0)->max_output_tokens = 1000;
    n.max_output = 2000;
    p = prefs_for(0);
    expect_route(&p, &n, "beta");
    ep(0, 1)->max_output_tokens = 1500;
    expect_refusal(&p, &n, FG_E_CONTEXT_LENGTH_EXCEEDED, "max_tokens");
}

static void
test_max_output_is_as_asked_else_the_maximum_cut_to_the_window(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    world(1);
    p = prefs_for(0);
    n.prompt_lower = 6000;
    n.prompt_upper = 6000;
    expect_int_eq(plan(&p, &n, &out, &err), FG_OK);
    expect_int_eq(out.c[0].max_output, 8192 - 6000);
    n.prompt_lower = 8191;
    n.prompt_upper = 8191;
    expect_int_eq(plan(&p, &n, &out, &err), FG_OK);
    expect_int_eq(out.c[0].max_output, 1);
    n.prompt_lower = 100;
    n.max_output = 300;
    expect_int_eq(plan(&p, &n, &out, &err), FG_OK);
    expect_int_eq(out.c[0].max_output, 300);
    n.max_output = 0;
    expect_int_eq(plan(&p, &n, &out, &err), FG_OK);
    expect_int_eq(out.c[0].max_output, 4096);
}

/* -- precedence when reasons mix ---------------------------------------- */

static void
test_images_win_over_a_window_too_small(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    world(2);
    ep(0, 0)->supports_vision = 0;
    ep(0, 1)->context_window = 1000;
    n.has_images = 1;
    n.prompt_lower = 2000;
    n.prompt_upper = 2000;
    p = prefs_for(0);
    expect_int_eq(plan(&p, &n, &out, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_UNSUPPORTED_IMAGE_INPUT);
}

static void
test_window_wins_over_a_capability_and_a_preference(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    world(3);
    ep(0, 0)->context_window = 1000;
    ep(0, 1)->supports_tools = 0;
    n.uses_tools = 1;
    n.prompt_lower = 2000;
    n.prompt_upper = 2000;
    p = prefs_for(0);
    p.ignore[0] = STR("gamma");
    p.n_ignore = 1;
    expect_int_eq(plan(&p, &n, &out, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_CONTEXT_LENGTH_EXCEEDED);
    expect_true(strstr(err.msg, "context length is 1000 tokens") != NULL);
}

static void
test_a_capability_wins_over_a_preference(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();

    /* alpha has tools but is not allowed; beta is allowed, no tools */
    world(2);
    ep(0, 1)->supports_tools = 0;
    n.uses_tools = 1;
    p = prefs_for(0);
    p.only[0] = STR("beta");
    p.n_only = 1;
    p.has_only = 1;
    expect_refusal(&p, &n, FG_E_UNSUPPORTED_PARAMETER, "tools");
}

static void
test_an_endpoint_failing_twice_counts_for_the_first_reason(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    /* no vision and no tools: images, not tools */
    world(1);
    ep(0, 0)->supports_vision = 0;
    ep(0, 0)->supports_tools = 0;
    n.has_images = 1;
    n.uses_tools = 1;
    p = prefs_for(0);
    expect_int_eq(plan(&p, &n, &out, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_UNSUPPORTED_IMAGE_INPUT);
}

/* -- the key, fallback models, disabled providers ----------------------- */

static int
allows_only_reasoner(void *arg, const fg_model_t *model)
{
    (void) arg;
    return strcmp(model->id, "demo-reasoner") == 0;
}

static void
test_key_allowed_none_of_the_models_is_model_not_allowed(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    world(2);
    p = prefs_for(0);
    p.models[1] = &w.models[2];
    p.n_models = 2;
    expect_int_eq(fg_route_plan(&w.catalog, NULL, &conf, &p, &n,
                                allows_only_reasoner, NULL, NOW, 1, &out,
                                &retry_after, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_MODEL_NOT_ALLOWED);
    expect_str_eq(err.param, "model");
    expect_str_eq(err.msg,
                  "This API key may not use the model 'demo-chat'.");
}

static void
test_key_refusing_the_model_routes_to_an_allowed_fallback(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    world(1);
    p = prefs_for(0);
    p.models[1] = &w.models[1];
    p.n_models = 2;
    expect_int_eq(fg_route_plan(&w.catalog, NULL, &conf, &p, &n,
                                allows_only_reasoner, NULL, NOW, 1, &out,
                                &retry_after, &err), FG_OK);
    expect_str_eq(endpoints_of(&out), "demo-reasoner/alpha");
}

static void
test_key_refusal_gives_way_to_another_models_reason(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    world(1);
    ep(1, 0)->supports_tools = 0;
    n.uses_tools = 1;
    p = prefs_for(0);
    p.models[1] = &w.models[1];
    p.n_models = 2;
    expect_int_eq(fg_route_plan(&w.catalog, NULL, &conf, &p, &n,
                                allows_only_reasoner, NULL, NOW, 1, &out,
                                &retry_after, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_UNSUPPORTED_PARAMETER);
    expect_true(strstr(err.msg, "demo-reasoner") != NULL);
}

static void
test_fallback_models_come_after_the_model_however_cheap(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    world(2);
    ep(2, 0)->completion_per_mtok_micro = 0;
    ep(2, 1)->completion_per_mtok_micro = 0;
    ep(0, 1)->completion_per_mtok_micro = CREDIT;
    p = prefs_for(0);
    p.models[1] = &w.models[2];
    p.n_models = 2;
    p.preset = FG_PRESET_PRICE;
    expect_int_eq(plan(&p, &n, &out, &err), FG_OK);
    expect_int_eq(out.n, 4);
    expect_true(out.c[0].endpoint == ep(0, 1));
    expect_true(out.c[1].endpoint == ep(0, 0));
    expect_true(out.c[2].endpoint->model == &w.models[2]);
    expect_true(out.c[3].endpoint->model == &w.models[2]);
}

static void
test_a_model_named_twice_is_planned_once(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    world(2);
    p = prefs_for(0);
    p.models[1] = &w.models[0];
    p.n_models = 2;
    expect_int_eq(plan(&p, &n, &out, &err), FG_OK);
    expect_int_eq(out.n, 2);
}

static void
test_a_disabled_providers_endpoint_is_skipped(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;

    world(3);
    w.providers[1].is_enabled = 0;
    p = prefs_for(0);
    p.preset = FG_PRESET_PRICE;
    ep(0, 1)->completion_per_mtok_micro = 0;       /* cheapest, but off */
    expect_int_eq(plan(&p, &n, &out, &err), FG_OK);
    expect_int_eq(out.n, 2);
    expect_true(out.c[0].endpoint != ep(0, 1));
    expect_true(out.c[1].endpoint != ep(0, 1));
}

static void
test_a_model_whose_providers_are_all_disabled_names_the_model(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();

    world(1);
    w.providers[0].is_enabled = 0;
    p = prefs_for(0);
    expect_refusal(&p, &n, FG_E_NO_MATCHING_ENDPOINT, "model");
}

/* -- ties --------------------------------------------------------------- */

static void
test_equal_endpoints_share_load_evenly(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;
    uint64_t         r;
    int              alpha_first = 0, ok = 1;

    world(2);
    p = prefs_for(0);
    for (r = 0; r < 10000; r++) {
        ok &= plan_seeded(&p, &n, r * 0x2545f4914f6cdd1dULL + 7, &out,
                          &err) == FG_OK && out.n == 2;
        alpha_first += out.c[0].endpoint == ep(0, 0);
    }
    expect_true(ok);
    expect_true(alpha_first >= 4000 && alpha_first <= 6000);
}

static void
test_the_same_random_gives_the_same_order(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;
    char             first[512];

    world(5);
    p = prefs_for(0);
    expect_int_eq(plan_seeded(&p, &n, 1234, &out, &err), FG_OK);
    snprintf(first, sizeof(first), "%s", providers_of(&out));
    expect_int_eq(plan_seeded(&p, &n, 1234, &out, &err), FG_OK);
    expect_str_eq(providers_of(&out), first);
}

static void
test_unequal_endpoints_keep_their_order_whatever_the_random(void)
{
    fg_route_prefs_t p;
    fg_route_need_t  n = need_chat();
    fg_route_plan_t  out;
    fg_err_t         err;
    uint64_t         r;
    int              ok = 1;

    world(2);
    ep(0, 0)->completion_per_mtok_micro = 3 * CREDIT;
    p = prefs_for(0);
    p.preset = FG_PRESET_PRICE;
    for (r = 0; r < 1000; r++) {
        ok &= plan_seeded(&p, &n, r, &out, &err) == FG_OK
              && out.c[0].endpoint == ep(0, 1);
    }
    expect_true(ok);
}

FG_TEST_MAIN("router",
    FG_TEST_CASE(test_prefs_init_sets_no_limits_and_allows_fallbacks),
    FG_TEST_CASE(test_preset_names_parse_back),
    FG_TEST_CASE(test_expected_cost_caps_completion_at_expected_tokens_times_n),
    FG_TEST_CASE(test_expected_cost_without_a_limit_uses_the_endpoint_maximum),
    FG_TEST_CASE(test_balanced_is_applied_when_no_preset_is_given),
    FG_TEST_CASE(test_price_preset_orders_by_expected_cost),
    FG_TEST_CASE(test_environment_preset_orders_by_expected_grams),
    FG_TEST_CASE(test_speed_preset_without_health_ranks_a_shorter_completion_first),
    FG_TEST_CASE(test_quality_preset_puts_the_better_fallback_model_after_the_model),
    FG_TEST_CASE(test_quality_preset_puts_the_less_quantised_endpoint_first),
    FG_TEST_CASE(test_balanced_preset_weighs_price_speed_and_environment),
    FG_TEST_CASE(test_sort_price_overrides_the_preset),
    FG_TEST_CASE(test_provider_order_comes_first_then_the_rest_by_preset),
    FG_TEST_CASE(test_allow_fallbacks_false_keeps_only_the_ordered_providers),
    FG_TEST_CASE(test_allow_fallbacks_false_with_no_ordered_endpoint_names_the_field),
    FG_TEST_CASE(test_only_keeps_the_listed_providers),
    FG_TEST_CASE(test_only_empty_list_excludes_every_endpoint),
    FG_TEST_CASE(test_ignore_drops_the_listed_providers),
    FG_TEST_CASE(test_ignore_matches_whole_ids_only),
    FG_TEST_CASE(test_pinned_provider_restricts_its_model_to_that_endpoint),
    FG_TEST_CASE(test_pinned_provider_that_cannot_serve_falls_to_no_other_provider),
    FG_TEST_CASE(test_quantizations_keep_the_listed_and_drop_the_unknown),
    FG_TEST_CASE(test_max_price_drops_endpoints_above_either_price),
    FG_TEST_CASE(test_countries_keep_the_listed_locations),
    FG_TEST_CASE(test_max_carbon_intensity_drops_the_dirtier_and_the_unknown),
    FG_TEST_CASE(test_max_input_cost_drops_by_the_prompt_price),
    FG_TEST_CASE(test_require_parameters_drops_endpoints_missing_a_field),
    FG_TEST_CASE(test_require_parameters_off_keeps_endpoints_missing_a_field),
    FG_TEST_CASE(test_require_parameters_with_too_many_fields_drops_listing_endpoints),
    FG_TEST_CASE(test_preference_error_names_the_last_field_that_dropped_one),
    FG_TEST_CASE(test_reasoning_effort_drops_endpoints_without_the_value),
    FG_TEST_CASE(test_reasoning_effort_nowhere_accepted_names_the_accepted_values),
    FG_TEST_CASE(test_reasoning_effort_keeps_an_endpoint_accepting_what_the_map_sends),
    FG_TEST_CASE(test_reasoning_effort_sent_is_the_asked_else_the_mapped_value),
    FG_TEST_CASE(test_reasoning_effort_nowhere_accepted_names_the_mapped_values_too),
    FG_TEST_CASE(test_tools_supported_nowhere_is_unsupported_parameter),
    FG_TEST_CASE(test_json_schema_supported_nowhere_names_response_format),
    FG_TEST_CASE(test_images_without_vision_are_unsupported_image_input),
    FG_TEST_CASE(test_an_api_served_nowhere_is_no_matching_endpoint_for_the_model),
    FG_TEST_CASE(test_window_too_small_is_context_length_exceeded_at_the_widest),
    FG_TEST_CASE(test_window_filled_by_the_prompt_alone_says_so),
    FG_TEST_CASE(test_window_drops_the_narrow_endpoint_and_keeps_the_wide),
    FG_TEST_CASE(test_output_above_the_endpoint_maximum_drops_it),
    FG_TEST_CASE(test_max_output_is_as_asked_else_the_maximum_cut_to_the_window),
    FG_TEST_CASE(test_images_win_over_a_window_too_small),
    FG_TEST_CASE(test_window_wins_over_a_capability_and_a_preference),
    FG_TEST_CASE(test_a_capability_wins_over_a_preference),
    FG_TEST_CASE(test_an_endpoint_failing_twice_counts_for_the_first_reason),
    FG_TEST_CASE(test_key_allowed_none_of_the_models_is_model_not_allowed),
    FG_TEST_CASE(test_key_refusing_the_model_routes_to_an_allowed_fallback),
    FG_TEST_CASE(test_key_refusal_gives_way_to_another_models_reason),
    FG_TEST_CASE(test_fallback_models_come_after_the_model_however_cheap),
    FG_TEST_CASE(test_a_model_named_twice_is_planned_once),
    FG_TEST_CASE(test_a_disabled_providers_endpoint_is_skipped),
    FG_TEST_CASE(test_a_model_whose_providers_are_all_disabled_names_the_model),
    FG_TEST_CASE(test_equal_endpoints_share_load_evenly),
    FG_TEST_CASE(test_the_same_random_gives_the_same_order),
    FG_TEST_CASE(test_unequal_endpoints_keep_their_order_whatever_the_random))
