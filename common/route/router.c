/*
 * The router (router.h; the rules and formulas: docs/routing.md, "Choosing an endpoint").
 *
 * One pass per model: every endpoint is checked in the order of the
 * errors' precedence and dropped for the first check it fails, so the
 * reasons recorded say at once which error to return when nothing is
 * left; the survivors are scored, sorted and the runs of equal scores
 * shuffled. Everything lives on the stack: at most
 * FG_CATALOG_MAX_ENDPOINTS per model, FG_ROUTE_MAX_CANDIDATES in all.
 */

#include "common/route/router.h"

#include <math.h>
#include <string.h>

#include "common/accounts/ledger.h"

/* Figures of an endpoint never measured (docs/routing.md, "Choosing an endpoint"). */
#define ROUTE_PRIOR_TTFT_MS  1000.0
#define ROUTE_PRIOR_TPS      50.0

/* Scores closer than this (relative) are equal: load share among them. */
#define ROUTE_TIE_EPSILON    1e-9

/* The balanced preset's weights (quality is constant within one model). */
#define ROUTE_W_PRICE        0.4
#define ROUTE_W_SPEED        0.3
#define ROUTE_W_ENVIRONMENT  0.3

/*
 * Why an endpoint was dropped, in the order of precedence of the errors:
 * an endpoint records the first it fails. The preference and filter
 * reasons (ROUTE_API .. ROUTE_SPEED) follow the order in which they
 * would be applied one after another; the last one that dropped any is
 * the field named by FG_E_NO_MATCHING_ENDPOINT. Health comes last, so an
 * endpoint dropped for it was dropped for nothing else.
 */
typedef enum {
    ROUTE_KEY = 0,
    ROUTE_IMAGES,
    ROUTE_WINDOW,
    ROUTE_TOOLS,
    ROUTE_JSON_SCHEMA,
    ROUTE_REASONING,
    ROUTE_API,
    ROUTE_ONLY,
    ROUTE_IGNORE,
    ROUTE_ORDER,
    ROUTE_QUANTIZATION,
    ROUTE_MAX_PRICE,
    ROUTE_REQUIRE_PARAMETERS,
    ROUTE_COUNTRIES,
    ROUTE_CARBON,
    ROUTE_INPUT_COST,
    ROUTE_SPEED,
    ROUTE_HEALTH,
    ROUTE_REASON_COUNT,
    ROUTE_KEPT = ROUTE_REASON_COUNT
} route_reason_t;

/* The request field each preference or filter reason names. */
static const char *const route_field[ROUTE_REASON_COUNT] = {
    [ROUTE_API]                = "model",
    [ROUTE_ONLY]               = "provider.only",
    [ROUTE_IGNORE]             = "provider.ignore",
    [ROUTE_ORDER]              = "provider.allow_fallbacks",
    [ROUTE_QUANTIZATION]       = "provider.quantizations",
    [ROUTE_MAX_PRICE]          = "provider.max_price",
    [ROUTE_REQUIRE_PARAMETERS] = "provider.require_parameters",
    [ROUTE_COUNTRIES]          = "filters.countries",
    [ROUTE_CARBON]             = "filters.max_carbon_intensity",
    [ROUTE_INPUT_COST]         = "filters.max_input_cost",
    [ROUTE_SPEED]              = "filters.min_speed_tps",
};

/* The endpoint a request for @api was made on, for messages. */
static const char *
route_api_path(unsigned api)
{
    switch (api) {
    case FG_API_EMBEDDINGS:
        return "/v1/embeddings";
    case FG_API_RESPONSES:
        return "/v1/responses";
    case FG_API_COMPLETIONS:
        return "/v1/completions";
    default:
        return "/v1/chat/completions";
    }
}

/* What the dropped endpoints say, for the error when none is left. */
typedef struct {
    size_t            count[ROUTE_REASON_COUNT];
    const fg_model_t *model[ROUTE_REASON_COUNT];  /* first dropped for it */
    size_t            dropped;
    int64_t           window_max;       /* widest window too small */
    int64_t           output_max;       /* largest output limit too small */
    int64_t           retry_at_ms;      /* earliest of the unhealthy */
} route_drops_t;

/* A survivor while its model's endpoints are ordered. */
typedef struct {
    fg_route_candidate_t c;
    int                  group;         /* 0: in provider.order; 1: rest */
    double               ttft_ms;       /* measured, else the prior */
    double               tps;
} route_slot_t;

/* One call's context. */
typedef struct {
    const fg_health_t      *health;
    const fg_route_conf_t  *conf;
    const fg_route_prefs_t *prefs;
    const fg_route_need_t  *need;
    int64_t                 now_ms;
    int64_t                 expected;   /* completion tokens per choice */
    int                     wants_speed;    /* health figures needed */
    uint64_t                prng;
    route_drops_t           drops;
} route_ctx_t;


static const fg_route_conf_t route_conf_default = {
    FG_ROUTE_EXPECTED_COMPLETION_DEFAULT, { 0, 0, 0, 0, 0 }
};

void
fg_route_prefs_init(fg_route_prefs_t *prefs)
{
    memset(prefs, 0, sizeof(*prefs));
    prefs->allow_fallbacks = 1;
    prefs->sort = FG_SORT_NONE;
    prefs->max_price_prompt = -1;
    prefs->max_price_completion = -1;
    prefs->preset = FG_PRESET_UNSET;
    prefs->max_carbon_intensity = -1;
    prefs->max_input_cost = -1;
    prefs->min_speed_tps = -1;
}

/* The completion tokens per choice the scores assume at @e. */
static int64_t
route_completion(const fg_endpoint_t *e, const fg_route_need_t *need,
                 int64_t expected)
{
    int64_t limit = need->max_output > 0 ? need->max_output
                                         : e->max_output_tokens;

    if (expected <= 0) {
        expected = FG_ROUTE_EXPECTED_COMPLETION_DEFAULT;
    }
    return limit < expected ? limit : expected;
}

static int64_t
route_choices(const fg_route_need_t *need)
{
    return need->choices > 1 ? need->choices : 1;
}

int64_t
fg_route_expected_cost(const fg_endpoint_t *endpoint,
                       const fg_route_need_t *need,
                       int64_t expected_completion)
{
    fg_price_t price;

    price.prompt_per_mtok = endpoint->prompt_per_mtok_micro;
    price.cached_prompt_per_mtok = endpoint->cached_prompt_per_mtok_micro;
    price.completion_per_mtok = endpoint->completion_per_mtok_micro;
    return fg_ledger_cost(&price, need->prompt_upper, 0,
                          route_completion(endpoint, need,
                                           expected_completion)
                          * route_choices(need));
}

/* Whether the borrowed @s is the NUL-terminated @z. */
static int
route_str_is(const fg_route_str_t *s, const char *z)
{
    return z != NULL && strncmp(z, s->s, s->len) == 0 && z[s->len] == '\0';
}

/* The index of @z in @list, or -1. */
static int
route_list_find(const fg_route_str_t *list, size_t n, const char *z)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (route_str_is(&list[i], z)) {
            return (int) i;
        }
    }
    return -1;
}

/* Whether the JSON array of strings @array holds @s (NULL holds none). */
static int
route_json_has(const json_t *array, const fg_route_str_t *s)
{
    size_t i, n = json_array_size(array);

    for (i = 0; i < n; i++) {
        if (route_str_is(s, json_string_value(json_array_get(array, i)))) {
            return 1;
        }
    }
    return 0;
}

const char *
fg_route_reasoning_effort(const fg_endpoint_t *e, fg_route_str_t asked,
                          size_t *len)
{
    const json_t  *to;
    fg_route_str_t sent;

    if (route_json_has(e->reasoning_effort, &asked)) {
        *len = asked.len;
        return asked.s;
    }
    to = json_object_getn(e->model->reasoning_effort_map, asked.s,
                          asked.len);
    if (!json_is_string(to)) {
        return NULL;
    }
    sent.s = json_string_value(to);
    sent.len = json_string_length(to);
    if (!route_json_has(e->reasoning_effort, &sent)) {
        return NULL;
    }
    *len = sent.len;
    return sent.s;
}

/* The capabilities the request needs, in the errors' precedence. */
static route_reason_t
route_check_need(route_ctx_t *x, const fg_endpoint_t *e)
{
    const fg_route_need_t *need = x->need;
    size_t                 len;

    if (need->has_images && !e->supports_vision) {
        return ROUTE_IMAGES;
    }
    if (need->prompt_lower + (need->max_output > 0 ? need->max_output : 1)
        > e->context_window) {
        if (e->context_window > x->drops.window_max) {
            x->drops.window_max = e->context_window;
        }
        return ROUTE_WINDOW;
    }
    if (need->max_output > e->max_output_tokens) {
        if (e->max_output_tokens > x->drops.output_max) {
            x->drops.output_max = e->max_output_tokens;
        }
        return ROUTE_WINDOW;
    }
    if (need->uses_tools && !e->supports_tools) {
        return ROUTE_TOOLS;
    }
    if (need->uses_json_schema && !e->supports_json_schema) {
        return ROUTE_JSON_SCHEMA;
    }
    if (need->reasoning_effort.s != NULL
        && fg_route_reasoning_effort(e, need->reasoning_effort, &len)
           == NULL) {
        return ROUTE_REASONING;
    }
    if (!(e->apis & need->api)) {
        return ROUTE_API;
    }
    return ROUTE_KEPT;
}

/* The request's provider preferences and filters, health aside. */
static route_reason_t
route_check_prefs(route_ctx_t *x, const fg_endpoint_t *e)
{
    const fg_route_prefs_t *p = x->prefs;
    const fg_route_need_t  *need = x->need;
    const char             *provider = e->provider->id;
    size_t                  i;

    if (p->has_only && route_list_find(p->only, p->n_only, provider) < 0) {
        return ROUTE_ONLY;
    }
    if (route_list_find(p->ignore, p->n_ignore, provider) >= 0) {
        return ROUTE_IGNORE;
    }
    if (!p->allow_fallbacks && p->n_order > 0
        && route_list_find(p->order, p->n_order, provider) < 0) {
        return ROUTE_ORDER;
    }
    if (p->has_quantizations
        && route_list_find(p->quantizations, p->n_quantizations,
                           e->quantization) < 0) {
        return ROUTE_QUANTIZATION;
    }
    if ((p->max_price_prompt >= 0
         && e->prompt_per_mtok_micro > p->max_price_prompt)
        || (p->max_price_completion >= 0
            && e->completion_per_mtok_micro > p->max_price_completion)) {
        return ROUTE_MAX_PRICE;
    }
    if (p->require_parameters && json_is_array(e->parameters)) {
        if (need->params_overflow) {
            return ROUTE_REQUIRE_PARAMETERS;
        }
        for (i = 0; i < need->n_params; i++) {
            if (!route_json_has(e->parameters, &need->params[i])) {
                return ROUTE_REQUIRE_PARAMETERS;
            }
        }
    }
    if (p->has_countries
        && route_list_find(p->countries, p->n_countries, e->location) < 0) {
        return ROUTE_COUNTRIES;
    }
    if (p->max_carbon_intensity >= 0
        && (e->carbon_intensity < 0
            || e->carbon_intensity > p->max_carbon_intensity)) {
        return ROUTE_CARBON;
    }
    if (p->max_input_cost >= 0
        && e->prompt_per_mtok_micro > p->max_input_cost) {
        return ROUTE_INPUT_COST;
    }
    return ROUTE_KEPT;
}

/*
 * The health checks, last: min_speed_tps (an unmeasured endpoint is kept:
 * it must be tried to be measured) and the circuit or cool-down. Fills
 * @s's figures when the order needs them.
 */
static route_reason_t
route_check_health(route_ctx_t *x, const fg_endpoint_t *e, route_slot_t *s)
{
    double  ttft, tps;
    int64_t retry_at = x->now_ms;

    s->ttft_ms = ROUTE_PRIOR_TTFT_MS;
    s->tps = ROUTE_PRIOR_TPS;
    if (x->health == NULL || e->health_slot < 0) {
        return ROUTE_KEPT;
    }
    if (x->wants_speed
        && fg_health_speed(x->health, e->health_slot, &ttft, &tps)
           == FG_OK) {
        if (ttft > 0) {
            s->ttft_ms = ttft;
        }
        if (tps > 0) {
            s->tps = tps;
            if (x->prefs->min_speed_tps >= 0
                && tps < x->prefs->min_speed_tps) {
                return ROUTE_SPEED;
            }
        }
    }
    if (!fg_health_available(x->health, e->health_slot, &x->conf->circuit,
                             x->now_ms, &retry_at)) {
        if (retry_at < x->drops.retry_at_ms) {
            x->drops.retry_at_ms = retry_at;
        }
        return ROUTE_HEALTH;
    }
    return ROUTE_KEPT;
}

static void
route_drop(route_ctx_t *x, route_reason_t r, const fg_model_t *m)
{
    x->drops.count[r]++;
    x->drops.dropped++;
    if (x->drops.model[r] == NULL) {
        x->drops.model[r] = m;
    }
}

/* The output per choice at @e: as asked, else its maximum cut to what
 * the window leaves after the prompt, at least 1 (pipeline.c's rule). */
static int64_t
route_max_output(const fg_endpoint_t *e, const fg_route_need_t *need)
{
    int64_t room = e->context_window - need->prompt_lower;

    if (need->max_output > 0) {
        return need->max_output;
    }
    if (e->max_output_tokens <= room) {
        return e->max_output_tokens;
    }
    return room > 1 ? room : 1;
}

/* Estimated ms to serve a choice at @s: first token, then the rest. */
static double
route_serve_ms(const route_ctx_t *x, const route_slot_t *s)
{
    return s->ttft_ms
           + (double) route_completion(s->c.endpoint, x->need, x->expected)
             / s->tps * 1000.0;
}

/* Grams CO2e the request is expected to emit at @e. */
static double
route_grams(const route_ctx_t *x, const fg_endpoint_t *e)
{
    double completion = (double) route_completion(e, x->need, x->expected)
                        * (double) route_choices(x->need);

    return (double) x->need->prompt_upper * e->co2_g_per_mtok_prompt / 1e6
           + completion * e->co2_g_per_mtok_completion / 1e6;
}

/* @v scaled to [0,1] between @lo and @hi; 0 when they are equal. */
static double
route_norm(double v, double lo, double hi)
{
    return hi > lo ? (v - lo) / (hi - lo) : 0.0;
}

/* Scores the @n slots not placed by provider.order by balanced. */
static void
route_score_balanced(const route_ctx_t *x, route_slot_t *s, size_t n)
{
    double lo[3] = { 0, 0, 0 }, hi[3] = { 0, 0, 0 };
    double v[FG_CATALOG_MAX_ENDPOINTS][3];
    size_t i, k, seen = 0;

    for (i = 0; i < n; i++) {
        if (s[i].group == 0) {
            continue;
        }
        v[i][0] = (double) s[i].c.expected_micro;
        v[i][1] = route_serve_ms(x, &s[i]);
        v[i][2] = route_grams(x, s[i].c.endpoint);
        for (k = 0; k < 3; k++) {
            if (seen == 0 || v[i][k] < lo[k]) {
                lo[k] = v[i][k];
            }
            if (seen == 0 || v[i][k] > hi[k]) {
                hi[k] = v[i][k];
            }
        }
        seen++;
    }
    for (i = 0; i < n; i++) {
        if (s[i].group == 0) {
            continue;
        }
        s[i].c.score = ROUTE_W_PRICE * route_norm(v[i][0], lo[0], hi[0])
                       + ROUTE_W_SPEED * route_norm(v[i][1], lo[1], hi[1])
                       + ROUTE_W_ENVIRONMENT
                         * route_norm(v[i][2], lo[2], hi[2]);
    }
}

/*
 * The weight bits of an endpoint's quantisation: within one model the
 * quality preset prefers the less quantised. Unknown counts as 8 (most
 * hosts that do not say serve fp8).
 */
static double
route_precision_bits(const fg_endpoint_t *e)
{
    static const struct {
        const char *name;
        double      bits;
    } table[] = {
        { "fp32", 32 }, { "bf16", 16 }, { "fp16", 16 }, { "fp8", 8 },
        { "int8", 8 }, { "fp6", 6 }, { "fp4", 4 }, { "int4", 4 },
    };
    size_t i;

    for (i = 0; e->quantization != NULL && i < sizeof(table)
                                                / sizeof(table[0]); i++) {
        if (strcmp(e->quantization, table[i].name) == 0) {
            return table[i].bits;
        }
    }
    return 8;
}

/* The score of @s by provider.sort, else by @preset (not balanced). */
static double
route_score(const route_ctx_t *x, const route_slot_t *s, fg_preset_t preset)
{
    switch (x->prefs->sort) {
    case FG_SORT_PRICE:
        return (double) s->c.expected_micro;
    case FG_SORT_THROUGHPUT:
        return -s->tps;
    case FG_SORT_LATENCY:
        return s->ttft_ms;
    case FG_SORT_NONE:
        break;
    }
    switch (preset) {
    case FG_PRESET_SPEED:
        return route_serve_ms(x, s);
    case FG_PRESET_PRICE:
        return (double) s->c.expected_micro;
    case FG_PRESET_QUALITY:
        /* The model's figure first, then its weights' precision. */
        return -s->c.endpoint->model->quality * 100.0
               - route_precision_bits(s->c.endpoint);
    case FG_PRESET_ENVIRONMENT:
        return route_grams(x, s->c.endpoint);
    default:
        return 0.0;
    }
}

static uint64_t
route_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int
route_equal(double a, double b)
{
    return fabs(a - b) <= ROUTE_TIE_EPSILON * fmax(fabs(a), fabs(b));
}

static int
route_before(const route_slot_t *a, const route_slot_t *b)
{
    if (a->group != b->group) {
        return a->group < b->group;
    }
    return a->c.score < b->c.score;
}

/* Sorts @s by (group, score) and shuffles each run of equals. */
static void
route_order(route_ctx_t *x, route_slot_t *s, size_t n)
{
    route_slot_t t;
    size_t       i, j, run;

    for (i = 1; i < n; i++) {
        t = s[i];
        for (j = i; j > 0 && route_before(&t, &s[j - 1]); j--) {
            s[j] = s[j - 1];
        }
        s[j] = t;
    }
    for (i = 0; i < n; i = run) {
        for (run = i + 1; run < n && s[run].group == s[i].group
                          && route_equal(s[run].c.score, s[i].c.score);
             run++) {
        }
        for (j = run - 1; j > i; j--) {
            size_t k = i + route_splitmix64(&x->prng) % (j - i + 1);

            t = s[j];
            s[j] = s[k];
            s[k] = t;
        }
    }
}

/* Whether @e is already a candidate (a model named twice). */
static int
route_planned(const fg_route_plan_t *out, const fg_endpoint_t *e)
{
    size_t i;

    for (i = 0; i < out->n; i++) {
        if (out->c[i].endpoint == e) {
            return 1;
        }
    }
    return 0;
}

/* Adds model @i's survivors to @out in their order. */
static void
route_model(route_ctx_t *x, size_t i, fg_route_allows_pt allows,
            void *allow_arg, fg_preset_t preset, fg_route_plan_t *out)
{
    const fg_route_prefs_t *p = x->prefs;
    const fg_model_t       *m = p->models[i];
    route_slot_t            s[FG_CATALOG_MAX_ENDPOINTS];
    route_reason_t          r;
    size_t                  k, n = 0, count;
    int                     allowed, rank;

    count = m->endpoint_count < FG_CATALOG_MAX_ENDPOINTS
            ? m->endpoint_count : FG_CATALOG_MAX_ENDPOINTS;
    allowed = allows == NULL || allows(allow_arg, m);
    for (k = 0; k < count; k++) {
        const fg_endpoint_t *e = m->endpoints[k];

        /* Not this model's to offer: no reason to report. */
        if (!e->provider->is_enabled
            || (p->pinned[i] != NULL && e->provider != p->pinned[i])
            || (i > 0 && route_planned(out, e))) {
            continue;
        }
        r = ROUTE_KEY;
        if (allowed && (r = route_check_need(x, e)) == ROUTE_KEPT
            && (r = route_check_prefs(x, e)) == ROUTE_KEPT) {
            r = route_check_health(x, e, &s[n]);
        }
        if (r != ROUTE_KEPT) {
            route_drop(x, r, m);
            continue;
        }
        s[n].c.endpoint = e;
        s[n].c.max_output = route_max_output(e, x->need);
        s[n].c.expected_micro = fg_route_expected_cost(e, x->need,
                                                       x->expected);
        rank = route_list_find(p->order, p->n_order, e->provider->id);
        s[n].group = rank >= 0 ? 0 : 1;
        s[n].c.score = rank >= 0 ? (double) rank : 0.0;
        n++;
    }
    if (p->sort == FG_SORT_NONE && preset == FG_PRESET_BALANCED) {
        route_score_balanced(x, s, n);
    } else {
        for (k = 0; k < n; k++) {
            if (s[k].group == 1) {
                s[k].c.score = route_score(x, &s[k], preset);
            }
        }
    }
    route_order(x, s, n);
    for (k = 0; k < n && out->n < FG_ROUTE_MAX_CANDIDATES; k++) {
        out->c[out->n++] = s[k].c;
    }
}

/* The values of reasoning_effort @m's endpoints accept, ", "-joined,
 * then what its reasoning_effort_map sends for others. */
static void
route_efforts(const fg_model_t *m, char *buf, size_t size)
{
    size_t      i, j, k, n, len = 0;
    const char *from;
    json_t     *to;

    buf[0] = '\0';
    for (i = 0; i < m->endpoint_count; i++) {
        const json_t *a = m->endpoints[i]->reasoning_effort;

        n = json_array_size(a);
        for (j = 0; j < n; j++) {
            const char *v = json_string_value(json_array_get(a, j));
            int         seen = v == NULL;

            for (k = 0; k < i && !seen; k++) {
                fg_route_str_t s = { v, strlen(v) };

                seen = route_json_has(m->endpoints[k]->reasoning_effort, &s);
            }
            for (k = 0; k < j && !seen; k++) {
                seen = strcmp(v, json_string_value(json_array_get(a, k)))
                       == 0;
            }
            if (!seen && len < size) {
                len += (size_t) snprintf(buf + len, size - len, "%s%s",
                                         len > 0 ? ", " : "", v);
            }
        }
    }
    if (len == 0) {
        snprintf(buf, size, "none");
        return;
    }
    i = 0;
    json_object_foreach(m->reasoning_effort_map, from, to) {
        if (len < size) {
            len += (size_t) snprintf(buf + len, size - len, "%s%s to %s",
                                     i++ == 0 ? ", and maps " : ", ", from,
                                     json_string_value(to));
        }
    }
}

/* Nothing is left: the most specific reason (router.h's precedence). */
static int
route_fail(const route_ctx_t *x, int64_t *retry_after_s, fg_err_t *err)
{
    const fg_route_prefs_t *p = x->prefs;
    const route_drops_t    *d = &x->drops;
    const fg_route_need_t  *need = x->need;
    char                    accepts[256];
    int                     r;

    if (d->dropped == 0) {
        return fg_err_set(err, FG_E_NO_MATCHING_ENDPOINT, "model",
                          "No enabled endpoint serves the model '%s'.",
                          p->n_models > 0 ? p->models[0]->id : "");
    }
    if (d->count[ROUTE_KEY] == d->dropped) {
        return fg_err_set(err, FG_E_MODEL_NOT_ALLOWED, "model",
                          "This API key may not use the model '%s'.",
                          d->model[ROUTE_KEY]->id);
    }
    if (d->count[ROUTE_IMAGES] > 0) {
        return fg_err_set(err, FG_E_UNSUPPORTED_IMAGE_INPUT, "messages",
                          "Invalid content type. image_url is only "
                          "supported by certain models; %s does not "
                          "accept images.", d->model[ROUTE_IMAGES]->id);
    }
    if (d->count[ROUTE_WINDOW] > 0 && d->window_max == 0) {
        return fg_err_set(err, FG_E_CONTEXT_LENGTH_EXCEEDED, "max_tokens",
                          "This model's maximum output is %lld tokens. "
                          "However, you requested %lld tokens in the "
                          "completion. Please reduce the length of the "
                          "completion.", (long long) d->output_max,
                          (long long) need->max_output);
    }
    if (d->count[ROUTE_WINDOW] > 0 && need->max_output <= 0) {
        return fg_err_set(err, FG_E_CONTEXT_LENGTH_EXCEEDED, "messages",
                          "This model's maximum context length is %lld "
                          "tokens. However, your messages resulted in "
                          "%s%lld tokens. Please reduce the length of the "
                          "messages.", (long long) d->window_max,
                          need->prompt_lower == need->prompt_upper
                          ? "" : "at least ",
                          (long long) need->prompt_lower);
    }
    if (d->count[ROUTE_WINDOW] > 0) {
        return fg_err_set(err, FG_E_CONTEXT_LENGTH_EXCEEDED, "messages",
                          "This model's maximum context length is %lld "
                          "tokens. However, you requested %lld tokens "
                          "(%s%lld in the messages, %lld in the "
                          "completion). Please reduce the length of the "
                          "messages or completion.",
                          (long long) d->window_max,
                          (long long) (need->prompt_lower
                                       + need->max_output),
                          need->prompt_lower == need->prompt_upper
                          ? "" : "at least ",
                          (long long) need->prompt_lower,
                          (long long) need->max_output);
    }
    if (d->count[ROUTE_TOOLS] > 0) {
        return fg_err_set(err, FG_E_UNSUPPORTED_PARAMETER, "tools",
                          "tools are not supported by %s.",
                          d->model[ROUTE_TOOLS]->id);
    }
    if (d->count[ROUTE_JSON_SCHEMA] > 0) {
        return fg_err_set(err, FG_E_UNSUPPORTED_PARAMETER, "response_format",
                          "response_format json_schema is not supported "
                          "by %s.", d->model[ROUTE_JSON_SCHEMA]->id);
    }
    if (d->count[ROUTE_REASONING] > 0) {
        route_efforts(d->model[ROUTE_REASONING], accepts, sizeof(accepts));
        return fg_err_set(err, FG_E_UNSUPPORTED_PARAMETER, "reasoning_effort",
                          "reasoning_effort '%.*s' is not supported by %s; "
                          "it accepts: %s",
                          (int) (need->reasoning_effort.len < 64
                                 ? need->reasoning_effort.len : 64),
                          need->reasoning_effort.s,
                          d->model[ROUTE_REASONING]->id, accepts);
    }
    if (d->count[ROUTE_HEALTH] > 0) {
        int64_t wait_ms = d->retry_at_ms - x->now_ms;

        if (retry_after_s != NULL) {
            *retry_after_s = wait_ms > 1000 ? (wait_ms + 999) / 1000 : 1;
        }
        return fg_err_set(err, FG_E_NO_PROVIDER_AVAILABLE, NULL,
                          "No provider of %s is available now; retry "
                          "later.", d->model[ROUTE_HEALTH]->id);
    }
    for (r = ROUTE_SPEED; r > ROUTE_API && d->count[r] == 0; r--) {
    }
    if (r == ROUTE_API && d->count[r] > 0) {
        return fg_err_set(err, FG_E_NO_MATCHING_ENDPOINT, "model",
                          "The model '%s' does not serve %s.",
                          d->model[r]->id, route_api_path(need->api));
    }
    return fg_err_set(err, FG_E_NO_MATCHING_ENDPOINT, route_field[r],
                      "No endpoint of the model '%s' matches %s.",
                      d->model[r]->id, route_field[r]);
}

int
fg_route_plan(const fg_catalog_t *catalog, const fg_health_t *health,
              const fg_route_conf_t *conf, const fg_route_prefs_t *prefs,
              const fg_route_need_t *need, fg_route_allows_pt allows,
              void *allow_arg, int64_t now_ms, uint64_t random,
              fg_route_plan_t *out, int64_t *retry_after_s, fg_err_t *err)
{
    route_ctx_t x;
    fg_preset_t preset;
    size_t      i, n_models;

    (void) catalog;    /* the models carry their endpoints */
    if (conf == NULL) {
        conf = &route_conf_default;
    }
    preset = prefs->preset == FG_PRESET_UNSET ? FG_PRESET_BALANCED
                                              : prefs->preset;
    memset(&x.drops, 0, sizeof(x.drops));
    x.drops.retry_at_ms = INT64_MAX;
    x.health = health;
    x.conf = conf;
    x.prefs = prefs;
    x.need = need;
    x.now_ms = now_ms;
    x.expected = conf->expected_completion_tokens > 0
                 ? conf->expected_completion_tokens
                 : FG_ROUTE_EXPECTED_COMPLETION_DEFAULT;
    x.prng = random;
    x.wants_speed = prefs->min_speed_tps >= 0
                    || prefs->sort == FG_SORT_THROUGHPUT
                    || prefs->sort == FG_SORT_LATENCY
                    || (prefs->sort == FG_SORT_NONE
                        && (preset == FG_PRESET_SPEED
                            || preset == FG_PRESET_BALANCED));
    out->n = 0;
    out->preset = preset;
    n_models = prefs->n_models < FG_ROUTE_MAX_MODELS ? prefs->n_models
                                                     : FG_ROUTE_MAX_MODELS;
    for (i = 0; i < n_models && out->n < FG_ROUTE_MAX_CANDIDATES; i++) {
        route_model(&x, i, allows, allow_arg, preset, out);
    }
    if (out->n == 0) {
        return route_fail(&x, retry_after_s, err);
    }
    return FG_OK;
}
