/*
 * catalog.c: loads the provider and model catalogs.
 *
 * Both files are parsed strictly (an unknown member is an error naming the
 * entry and the member), so a typo in a price or a timeout never turns
 * silently into a default. Provider keys come only from the environment
 * variable the catalog names: the catalog file itself holds no secret, and a
 * tenant can never name a base URL (validate refuses such fields).
 *
 * A model is served by endpoints. A model entry with "provider" is one
 * endpoint made of its own members; one with "endpoints" gives each
 * endpoint's members and its own are the defaults. The endpoints of every
 * model are one array, allocated once, so pointers into it stay put.
 *
 * Look-ups go through hash indexes built as the files load: providers by
 * id, models by id, and endpoints by "provider/id" and
 * "provider/upstream_id", the very text of a request that names a model
 * through its provider. So routing costs one or two hashes of the
 * requested name, however large the catalog.
 */

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/alloc.h"
#include "common/base/catalog.h"

static int catalog_load_providers(fg_catalog_t *cat, const char *path,
                                  fg_err_t *err);
static int catalog_load_models(fg_catalog_t *cat, const char *path,
                               fg_err_t *err);
static json_t *catalog_load_array(const char *path, const char *key,
                                  fg_err_t *err);
static int catalog_load_model(fg_catalog_t *cat, size_t i, json_t *item,
                              const char *path, fg_err_t *err);
static void catalog_index_model(fg_catalog_t *cat, size_t i);
static int catalog_model_tokens(fg_model_t *m, json_t *tokens,
                                const char *path, size_t i, fg_err_t *err);

static json_t *
catalog_load_array(const char *path, const char *key, fg_err_t *err)
{
    json_error_t jerr;
    json_t      *root, *arr;

    root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        fg_err_set(err, FG_E_INVALID_JSON, NULL, "%s:%d:%d: %s", path,
                   jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    arr = json_object_get(root, key);
    if (!json_is_object(root) || !json_is_array(arr)
        || json_object_size(root) != 1) {
        json_decref(root);
        fg_err_set(err, FG_E_INVALID_TYPE, NULL,
                   "%s: expected {\"%s\": [...]} and nothing else", path,
                   key);
        return NULL;
    }
    json_incref(arr);
    json_decref(root);
    return arr;
}

static int
catalog_load_providers(fg_catalog_t *cat, const char *path, fg_err_t *err)
{
    json_t      *arr, *item, *headers = NULL, *hv;
    json_error_t jerr;
    size_t       i, h;
    const char  *id, *name = NULL, *base_url, *base_url_env = NULL;
    const char  *key_env = NULL, *hname, *env;
    json_int_t   connect_ms = 5000, first_byte_ms = 60000, idle_ms = 60000;
    json_int_t   total_ms = 600000, rpm = 0, tpm = 0;

    arr = catalog_load_array(path, "providers", err);
    if (arr == NULL) {
        return FG_ERR;
    }
    cat->providers = fg_xcalloc(json_array_size(arr) + 1,
                                sizeof(fg_provider_t));
    json_array_foreach(arr, i, item) {
        fg_provider_t *p = &cat->providers[i];

        name = NULL;
        base_url_env = NULL;
        key_env = NULL;
        headers = NULL;
        connect_ms = 5000;
        first_byte_ms = 60000;
        idle_ms = 60000;
        total_ms = 600000;
        rpm = 0;
        tpm = 0;
        if (json_unpack_ex(item, &jerr, 0,
                           "{s:s, s?s, s:s, s?s, s?s, s?o,"
                           " s?{s?I, s?I, s?I, s?I !},"
                           " s?{s?I, s?I !} !}",
                           "id", &id, "name", &name, "base_url", &base_url,
                           "base_url_env", &base_url_env,
                           "key_env", &key_env, "headers", &headers,
                           "timeouts", "connect_ms", &connect_ms,
                           "first_byte_ms", &first_byte_ms,
                           "idle_ms", &idle_ms, "total_ms", &total_ms,
                           "limits", "requests_per_min", &rpm,
                           "tokens_per_min", &tpm)
            != 0) {
            fg_err_set(err, FG_E_INVALID_VALUE, NULL, "%s: providers[%zu]: %s",
                       path, i, jerr.text);
            goto fail;
        }
        if (!fg_idindex_add(&cat->providers_by_id, id, i)) {
            fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                       "%s: providers[%zu]: duplicate id \"%s\"", path, i, id);
            goto fail;
        }
        if (rpm < 0 || tpm < 0) {
            fg_err_set(err, FG_E_OUT_OF_RANGE, NULL,
                       "%s: providers[%zu]: limits must be >= 0", path, i);
            goto fail;
        }
        if (connect_ms < 1 || first_byte_ms < 1 || idle_ms < 1
            || total_ms < 1) {
            fg_err_set(err, FG_E_OUT_OF_RANGE, NULL,
                       "%s: providers[%zu]: timeouts must be >= 1 ms", path,
                       i);
            goto fail;
        }
        p->id = fg_xstrdup(id);
        p->name = fg_xstrdup(name ? name : id);
        env = base_url_env ? getenv(base_url_env) : NULL;
        p->base_url = fg_xstrdup(env && env[0] ? env : base_url);
        while (strlen(p->base_url) > 0
               && p->base_url[strlen(p->base_url) - 1] == '/') {
            p->base_url[strlen(p->base_url) - 1] = '\0';
        }
        if (strncmp(p->base_url, "http://", 7) != 0
            && strncmp(p->base_url, "https://", 8) != 0) {
            fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                       "%s: providers[%zu]: base_url must be http(s)://",
                       path, i);
            cat->provider_count = i + 1;
            goto fail;
        }
        p->key_env = key_env ? fg_xstrdup(key_env) : NULL;
        env = key_env ? getenv(key_env) : NULL;
        p->api_key = env && env[0] ? fg_xstrdup(env) : NULL;
        p->is_enabled = key_env == NULL || p->api_key != NULL;
        p->requests_per_min = rpm;
        p->tokens_per_min = tpm;
        p->connect_timeout_ms = connect_ms;
        p->first_byte_timeout_ms = first_byte_ms;
        p->idle_timeout_ms = idle_ms;
        p->total_timeout_ms = total_ms;
        cat->provider_count = i + 1;
        if (headers != NULL && !json_is_object(headers)) {
            fg_err_set(err, FG_E_INVALID_TYPE, NULL,
                       "%s: providers[%zu]: headers must be an object", path,
                       i);
            goto fail;
        }
        p->headers = fg_xcalloc(json_object_size(headers) + 1,
                                sizeof(char *));
        h = 0;
        json_object_foreach(headers, hname, hv) {
            char line[1024];

            if (!json_is_string(hv) || strpbrk(hname, ":\r\n") != NULL
                || strpbrk(json_string_value(hv), "\r\n") != NULL) {
                fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                           "%s: providers[%zu]: header \"%s\" is not a "
                           "single-line string", path, i, hname);
                goto fail;
            }
            snprintf(line, sizeof(line), "%s: %s", hname,
                     json_string_value(hv));
            p->headers[h++] = fg_xstrdup(line);
        }
    }
    json_decref(arr);
    return FG_OK;

fail:
    json_decref(arr);
    return FG_ERR;
}

/* Not given, in a catalog_spec_t (no sane file writes these). */
#define CATALOG_UNSET_INT  ((json_int_t) INT64_MIN)
#define CATALOG_UNSET_BOOL (-1)

/*
 * The members a model entry shares with its endpoints, as read from the
 * file (borrowed from it). A model's are its endpoints' defaults: an
 * endpoint's spec starts as a copy of its model's, and reading the
 * endpoint's entry over it replaces what the entry gives.
 */
typedef struct {
    const char *provider;
    const char *upstream_id;
    const char *quantization;
    const char *country;
    json_int_t  context_window;       /* CATALOG_UNSET_INT: not given */
    json_int_t  max_output;
    int         vision;               /* CATALOG_UNSET_BOOL: not given */
    int         tools;
    int         json_schema;
    json_t     *effort;
    json_t     *reasoning_format;     /* a name of catalog_formats[] */
    json_t     *apis;
    json_t     *parameters;
    json_t     *pricing;
    json_t     *limits;
    double      pue;                  /* NAN: not given */
} catalog_spec_t;

/* What an endpoint entry may hold; a model entry may hold these too (as
 * defaults) and catalog_model_members. */
static const char *const catalog_endpoint_members[] = {
    "provider", "upstream_id", "context_window", "max_output_tokens",
    "supports_vision", "supports_tools", "supports_json_schema",
    "reasoning_effort", "reasoning_format", "apis", "quantization",
    "parameters", "pricing", "limits", "country", "pue", NULL
};
static const char *const catalog_model_members[] = {
    "id", "created", "owned_by", "tokens", "quality", "endpoints",
    "reasoning_effort_map", NULL
};

/* The names of fg_reasoning_format_t, in its order. */
static const char *const catalog_formats[] = {
    "reasoning_effort", "thinking", "thinking_budget", "none"
};

#define CATALOG_FORMAT_COUNT (sizeof(catalog_formats) / sizeof(catalog_formats[0]))

static const struct {
    const char *name;
    unsigned    bit;
} catalog_api_names[] = {
    { "chat", FG_API_CHAT },
    { "responses", FG_API_RESPONSES },
    { "embeddings", FG_API_EMBEDDINGS },
    { "completions", FG_API_COMPLETIONS },
};

#define CATALOG_API_COUNT (sizeof(catalog_api_names) / sizeof(catalog_api_names[0]))

static int
catalog_listed(const char *const *names, const char *name)
{
    for (; *names != NULL; names++) {
        if (strcmp(*names, name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Strict parsing by hand, as "!" would be, but naming the member. */
static int
catalog_members_known(json_t *entry, const char *const *own,
                      const char *where, fg_err_t *err)
{
    const char *key;
    json_t     *value;

    json_object_foreach(entry, key, value) {
        if (!catalog_listed(catalog_endpoint_members, key)
            && (own == NULL || !catalog_listed(own, key))) {
            return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                              "%s: unknown member \"%s\"", where, key);
        }
    }
    return FG_OK;
}

/* Reads the shared members of @entry over @s: what it lacks stays. */
static int
catalog_spec_read(json_t *entry, catalog_spec_t *s, const char *where,
                  fg_err_t *err)
{
    json_error_t jerr;

    if (json_unpack_ex(entry, &jerr, 0,
                       "{s?s, s?s, s?s, s?s, s?I, s?I, s?b, s?b, s?b,"
                       " s?o, s?o, s?o, s?o, s?o, s?o, s?F}",
                       "provider", &s->provider,
                       "upstream_id", &s->upstream_id,
                       "quantization", &s->quantization,
                       "country", &s->country,
                       "context_window", &s->context_window,
                       "max_output_tokens", &s->max_output,
                       "supports_vision", &s->vision,
                       "supports_tools", &s->tools,
                       "supports_json_schema", &s->json_schema,
                       "reasoning_effort", &s->effort,
                       "reasoning_format", &s->reasoning_format,
                       "apis", &s->apis,
                       "parameters", &s->parameters, "pricing", &s->pricing,
                       "limits", &s->limits, "pue", &s->pue) != 0) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL, "%s: %s", where,
                          jerr.text);
    }
    return FG_OK;
}

static int
catalog_strings_have(const json_t *array, const json_t *s)
{
    size_t  i;
    json_t *v;

    json_array_foreach(array, i, v) {
        if (json_equal(v, s)) {
            return 1;
        }
    }
    return 0;
}

static int
catalog_is_strings(const json_t *array)
{
    size_t  i;
    json_t *v;

    if (!json_is_array(array)) {
        return 0;
    }
    json_array_foreach(array, i, v) {
        if (!json_is_string(v)) {
            return 0;
        }
    }
    return 1;
}

/* "apis": a non-empty array of names of catalog_api_names, as bits. */
static int
catalog_apis(const json_t *apis, unsigned *bits, const char *where,
             fg_err_t *err)
{
    size_t  i, k;
    json_t *v;

    *bits = 0;
    if (!json_is_array(apis) || json_array_size(apis) == 0) {
        return fg_err_set(err, FG_E_INVALID_TYPE, NULL,
                          "%s: apis must be a non-empty array", where);
    }
    json_array_foreach(apis, i, v) {
        for (k = 0; k < CATALOG_API_COUNT; k++) {
            if (json_is_string(v) && strcmp(json_string_value(v),
                                            catalog_api_names[k].name) == 0) {
                *bits |= catalog_api_names[k].bit;
                break;
            }
        }
        if (k == CATALOG_API_COUNT) {
            return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                              "%s: apis[%zu] is not \"chat\", \"responses\", "
                              "\"embeddings\" or \"completions\"", where, i);
        }
    }
    return FG_OK;
}

/* "pricing": {prompt, cached?, completion}; cached defaults to prompt. */
static int
catalog_pricing(json_t *pricing, json_int_t *prompt, json_int_t *cached,
                json_int_t *completion, const char *where, fg_err_t *err)
{
    json_error_t jerr;

    *cached = CATALOG_UNSET_INT;
    if (json_unpack_ex(pricing, &jerr, 0, "{s:I, s?I, s:I !}",
                       "prompt_per_mtok_micro", prompt,
                       "cached_prompt_per_mtok_micro", cached,
                       "completion_per_mtok_micro", completion) != 0) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL, "%s: pricing: %s",
                          where, jerr.text);
    }
    if (*cached == CATALOG_UNSET_INT) {
        *cached = *prompt;
    }
    if (*prompt < 0 || *cached < 0 || *completion < 0) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, NULL,
                          "%s: prices must be >= 0", where);
    }
    return FG_OK;
}

/* "limits": {requests_per_min?, tokens_per_min?}; absent: none (0). */
static int
catalog_limits(json_t *limits, json_int_t *rpm, json_int_t *tpm,
               const char *where, fg_err_t *err)
{
    json_error_t jerr;

    *rpm = 0;
    *tpm = 0;
    if (limits == NULL) {
        return FG_OK;
    }
    if (json_unpack_ex(limits, &jerr, 0, "{s?I, s?I !}",
                       "requests_per_min", rpm, "tokens_per_min", tpm) != 0) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL, "%s: limits: %s",
                          where, jerr.text);
    }
    if (*rpm < 0 || *tpm < 0) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, NULL,
                          "%s: limits must be >= 0", where);
    }
    return FG_OK;
}

/* "reasoning_format": one of catalog_formats[]. */
static int
catalog_format(const json_t *name, fg_reasoning_format_t *format,
               const char *where, fg_err_t *err)
{
    size_t k;

    for (k = 0; k < CATALOG_FORMAT_COUNT; k++) {
        if (json_is_string(name)
            && strcmp(json_string_value(name), catalog_formats[k]) == 0) {
            *format = (fg_reasoning_format_t) k;
            return FG_OK;
        }
    }
    return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                      "%s: reasoning_format must be \"reasoning_effort\", "
                      "\"thinking\", \"thinking_budget\" or \"none\"",
                      where);
}

/* Checks the members @s gives; says nothing of those it lacks. */
static int
catalog_spec_check(const catalog_spec_t *s, const char *where,
                   fg_err_t *err)
{
    json_int_t            p, c, q;
    unsigned              bits;
    fg_reasoning_format_t format;

    if ((s->context_window != CATALOG_UNSET_INT && s->context_window < 1)
        || (s->max_output != CATALOG_UNSET_INT && s->max_output < 0)) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, NULL,
                          "%s: context_window must be >= 1 and "
                          "max_output_tokens >= 0", where);
    }
    if ((s->effort != NULL && !catalog_is_strings(s->effort))
        || (s->parameters != NULL && !catalog_is_strings(s->parameters))) {
        return fg_err_set(err, FG_E_INVALID_TYPE, NULL,
                          "%s: reasoning_effort and parameters must be "
                          "arrays of strings", where);
    }
    if (s->quantization != NULL
        && (s->quantization[0] == '\0' || strlen(s->quantization) > 16
            || strspn(s->quantization, "abcdefghijklmnopqrstuvwxyz0123456789"
                      "_-") != strlen(s->quantization))) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "%s: quantization \"%.32s\" is not a lower-case "
                          "name such as \"fp8\", \"bf16\" or \"int4\"",
                          where, s->quantization);
    }
    if (s->country != NULL
        && (strlen(s->country) != 2
            || strspn(s->country, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 2)) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "%s: country \"%.32s\" is not ISO 3166 alpha-2 "
                          "(two capitals)", where, s->country);
    }
    if (!isnan(s->pue) && !(s->pue >= 1.0 && s->pue <= 3.0)) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, NULL,
                          "%s: pue must be within 1.0..3.0", where);
    }
    if ((s->reasoning_format != NULL
         && catalog_format(s->reasoning_format, &format, where, err)
            != FG_OK)
        || (s->apis != NULL && catalog_apis(s->apis, &bits, where, err)
            != FG_OK)
        || (s->pricing != NULL
            && catalog_pricing(s->pricing, &p, &c, &q, where, err) != FG_OK)
        || catalog_limits(s->limits, &p, &q, where, err) != FG_OK) {
        return FG_ERR;
    }
    return FG_OK;
}

/*
 * Adds to model @m the endpoint @s describes (after its inheritance),
 * as the next entry of cat->endpoints (room was made for it).
 */
static int
catalog_endpoint_add(fg_catalog_t *cat, fg_model_t *m,
                     const catalog_spec_t *s, const char *where,
                     fg_err_t *err)
{
    fg_provider_t *provider;
    fg_endpoint_t *e;
    json_int_t     prompt, cached, completion, rpm, tpm;
    unsigned       apis = FG_API_CHAT;
    size_t         k;
    fg_reasoning_format_t format;

    if (catalog_spec_check(s, where, err) != FG_OK) {
        return FG_ERR;
    }
    if (s->provider == NULL) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "%s: no \"provider\"", where);
    }
    provider = fg_catalog_provider(cat, s->provider);
    if (provider == NULL) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "%s: unknown provider \"%s\"", where, s->provider);
    }
    for (k = 0; k < m->endpoint_count; k++) {
        if (m->endpoints[k]->provider == provider) {
            return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                              "%s: a second endpoint at provider \"%s\" "
                              "(one a provider)", where, provider->id);
        }
    }
    if (s->apis != NULL
        && catalog_apis(s->apis, &apis, where, err) != FG_OK) {
        return FG_ERR;
    }
    if (s->context_window == CATALOG_UNSET_INT
        || (s->max_output == CATALOG_UNSET_INT && apis != FG_API_EMBEDDINGS)
        || s->pricing == NULL) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "%s: no \"%s\", and its model gives none", where,
                          s->pricing == NULL ? "pricing"
                          : s->context_window == CATALOG_UNSET_INT
                          ? "context_window" : "max_output_tokens");
    }
    if (catalog_pricing(s->pricing, &prompt, &cached, &completion, where,
                        err) != FG_OK
        || catalog_limits(s->limits, &rpm, &tpm, where, err) != FG_OK) {
        return FG_ERR;
    }
    /* An endpoint that generates has room for a reply; one that only
     * embeds generates nothing. */
    if (apis != FG_API_EMBEDDINGS && s->max_output < 1) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, NULL,
                          "%s: max_output_tokens must be >= 1 for an "
                          "endpoint that serves chat or responses", where);
    }
    /* Where the request's "reasoning" goes: the effort field by default
     * when the endpoint takes one, else nowhere. */
    format = json_array_size(s->effort) > 0 ? FG_REASONING_EFFORT
                                            : FG_REASONING_NONE;
    if (s->reasoning_format != NULL
        && catalog_format(s->reasoning_format, &format, where, err)
           != FG_OK) {
        return FG_ERR;
    }
    if (format == FG_REASONING_EFFORT && json_array_size(s->effort) == 0) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "%s: reasoning_format \"reasoning_effort\" needs "
                          "the reasoning_effort values the endpoint "
                          "accepts", where);
    }

    e = &cat->endpoints[cat->endpoint_count];
    e->index = cat->endpoint_count++;
    e->model = m;
    e->provider = provider;
    e->upstream_id = fg_xstrdup(s->upstream_id ? s->upstream_id : m->id);
    e->context_window = s->context_window;
    e->max_output_tokens = s->max_output == CATALOG_UNSET_INT
                           ? 0 : s->max_output;
    e->supports_vision = s->vision == 1;
    e->supports_tools = s->tools == 1;
    e->supports_json_schema = s->json_schema != 0;    /* default: yes */
    e->reasoning_effort = s->effort ? json_deep_copy(s->effort)
                                    : json_array();
    e->reasoning_format = format;
    e->apis = apis;
    e->quantization = s->quantization ? fg_xstrdup(s->quantization) : NULL;
    e->parameters = s->parameters ? json_deep_copy(s->parameters) : NULL;
    e->prompt_per_mtok_micro = prompt;
    e->cached_prompt_per_mtok_micro = cached;
    e->completion_per_mtok_micro = completion;
    e->requests_per_min = rpm;
    e->tokens_per_min = tpm;
    e->country = s->country ? fg_xstrdup(s->country) : NULL;
    e->pue = isnan(s->pue) ? 0 : s->pue;
    e->carbon_intensity = -1;        /* unknown until the impact attaches */
    e->health_slot = -1;
    m->endpoints[m->endpoint_count++] = e;
    return FG_OK;
}

/* Whether @m has an endpoint at an enabled provider (is served at all). */
static int
catalog_model_is_served(const fg_model_t *m)
{
    size_t k;

    for (k = 0; k < m->endpoint_count; k++) {
        if (m->endpoints[k]->provider->is_enabled) {
            return 1;
        }
    }
    return 0;
}

/* Whether @e counts in its model's summary: enabled, or the model has
 * none enabled (then every endpoint counts, so the model still reads
 * whole in the catalog). */
static int
catalog_endpoint_counts(const fg_endpoint_t *e, int model_is_served)
{
    return e->provider->is_enabled || !model_is_served;
}

static int64_t
catalog_endpoint_price(const fg_endpoint_t *e)
{
    return e->prompt_per_mtok_micro + e->completion_per_mtok_micro;
}

/* Fills @m's summary fields from its endpoints (fg_model_t). */
static void
catalog_model_summarise(fg_model_t *m)
{
    const fg_endpoint_t *first = NULL, *cheapest = NULL, *e;
    int                  served = catalog_model_is_served(m);
    size_t               k, n;
    json_t              *effort;

    m->reasoning_effort = json_array();
    for (k = 0; k < m->endpoint_count; k++) {
        e = m->endpoints[k];
        if (!catalog_endpoint_counts(e, served)) {
            continue;
        }
        if (first == NULL) {
            first = e;
        }
        if (cheapest == NULL
            || catalog_endpoint_price(e) < catalog_endpoint_price(cheapest)) {
            cheapest = e;
        }
        if (e->context_window > m->context_window) {
            m->context_window = e->context_window;
        }
        if (e->max_output_tokens > m->max_output_tokens) {
            m->max_output_tokens = e->max_output_tokens;
        }
        m->supports_vision |= e->supports_vision;
        m->supports_tools |= e->supports_tools;
        json_array_foreach(e->reasoning_effort, n, effort) {
            if (!catalog_strings_have(m->reasoning_effort, effort)) {
                json_array_append(m->reasoning_effort, effort);
            }
        }
    }
    m->provider = first->provider;
    m->upstream_id = fg_xstrdup(first->upstream_id);
    m->prompt_per_mtok_micro = cheapest->prompt_per_mtok_micro;
    m->cached_prompt_per_mtok_micro = cheapest->cached_prompt_per_mtok_micro;
    m->completion_per_mtok_micro = cheapest->completion_per_mtok_micro;
}

/* A name the router may compare, and upstream_body.c write, as it is:
 * 1 to 32 letters, digits, '.', '_' and '-'. */
static int
catalog_plain(const char *s)
{
    size_t n = strlen(s);

    return n >= 1 && n <= 32
           && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789._-") == n;
}

/*
 * "reasoning_effort_map": {value a client may send: value sent instead},
 * plain names, each value sent accepted by one of @m's endpoints at
 * least (otherwise no endpoint could take what it maps to).
 */
static int
catalog_effort_map(const fg_model_t *m, const json_t *map, const char *where,
                   fg_err_t *err)
{
    const char *key;
    json_t     *v;
    size_t      k;

    if (!json_is_object(map)) {
        return fg_err_set(err, FG_E_INVALID_TYPE, NULL,
                          "%s: reasoning_effort_map must be an object of "
                          "strings", where);
    }
    json_object_foreach((json_t *) map, key, v) {
        if (!catalog_plain(key)
            || (json_is_string(v) && !catalog_plain(json_string_value(v)))) {
            return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                              "%s: reasoning_effort_map: \"%.32s\" is not "
                              "a name of 1 to 32 letters, digits, '.', '_' "
                              "and '-'", where,
                              catalog_plain(key) ? json_string_value(v)
                                                 : key);
        }
        if (!json_is_string(v)) {
            return fg_err_set(err, FG_E_INVALID_TYPE, NULL,
                              "%s: reasoning_effort_map.%s must be a string",
                              where, key);
        }
        for (k = 0; k < m->endpoint_count; k++) {
            if (catalog_strings_have(m->endpoints[k]->reasoning_effort, v)) {
                break;
            }
        }
        if (k == m->endpoint_count) {
            return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                              "%s: reasoning_effort_map.%s: no endpoint "
                              "accepts \"%s\"", where, key,
                              json_string_value(v));
        }
    }
    return FG_OK;
}

static int
catalog_load_model(fg_catalog_t *cat, size_t i, json_t *item,
                   const char *path, fg_err_t *err)
{
    fg_model_t    *m = &cat->models[i];
    catalog_spec_t defaults = {
        .context_window = CATALOG_UNSET_INT, .max_output = CATALOG_UNSET_INT,
        .vision = CATALOG_UNSET_BOOL, .tools = CATALOG_UNSET_BOOL,
        .json_schema = CATALOG_UNSET_BOOL, .pue = NAN
    };
    catalog_spec_t spec;
    json_error_t   jerr;
    json_t        *endpoints = NULL, *tokens = NULL, *map = NULL;
    const char    *id, *owned_by = NULL;
    json_int_t     created = 0, rpm, tpm;
    double         quality = FG_CATALOG_QUALITY_DEFAULT;
    char           where[PATH_MAX + 192], ewhere[PATH_MAX + 224];
    size_t         j, n;

    if (json_unpack_ex(item, &jerr, 0, "{s:s, s?I, s?s, s?o, s?F, s?o, s?o}",
                       "id", &id, "created", &created, "owned_by", &owned_by,
                       "tokens", &tokens, "quality", &quality,
                       "endpoints", &endpoints,
                       "reasoning_effort_map", &map) != 0) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "%s: models[%zu]: %s", path, i, jerr.text);
    }
    snprintf(where, sizeof(where), "%s: models[%zu] (\"%.128s\")", path, i,
             id);
    if (catalog_members_known(item, catalog_model_members, where, err)
            != FG_OK
        || catalog_spec_read(item, &defaults, where, err) != FG_OK
        || catalog_spec_check(&defaults, where, err) != FG_OK
        || catalog_limits(defaults.limits, &rpm, &tpm, where, err) != FG_OK) {
        return FG_ERR;
    }
    if (!(quality >= 0 && quality <= 100)) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, NULL,
                          "%s: quality must be within 0..100", where);
    }
    /* One form or the other: which endpoint would a lone "provider"
     * beside "endpoints" be? */
    if ((defaults.provider != NULL) == (endpoints != NULL)) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "%s: give either \"provider\" (one endpoint) or "
                          "\"endpoints\", %s", where,
                          endpoints != NULL ? "not both" : "one of them");
    }
    n = endpoints != NULL ? json_array_size(endpoints) : 1;
    if (endpoints != NULL && (!json_is_array(endpoints) || n < 1
                              || n > FG_CATALOG_MAX_ENDPOINTS)) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "%s: endpoints must be an array of 1 to %d "
                          "entries", where, FG_CATALOG_MAX_ENDPOINTS);
    }
    if (catalog_model_tokens(m, tokens, path, i, err) != FG_OK) {
        return FG_ERR;
    }

    /* Counted now, so that a failure below frees what the model holds. */
    cat->model_count = i + 1;
    m->id = fg_xstrdup(id);
    m->created = created;
    m->quality = quality;
    m->requests_per_min = rpm;
    m->tokens_per_min = tpm;
    m->endpoints = fg_xcalloc(n, sizeof(*m->endpoints));
    for (j = 0; j < n; j++) {
        spec = defaults;
        if (endpoints == NULL) {
            snprintf(ewhere, sizeof(ewhere), "%s", where);
        } else {
            json_t *entry = json_array_get(endpoints, j);

            snprintf(ewhere, sizeof(ewhere),
                     "%s: models[%zu].endpoints[%zu] (\"%.128s\")", path, i,
                     j, id);
            if (!json_is_object(entry)) {
                return fg_err_set(err, FG_E_INVALID_TYPE, NULL,
                                  "%s: not an object", ewhere);
            }
            if (catalog_members_known(entry, NULL, ewhere, err) != FG_OK
                || catalog_spec_read(entry, &spec, ewhere, err) != FG_OK) {
                return FG_ERR;
            }
        }
        if (catalog_endpoint_add(cat, m, &spec, ewhere, err) != FG_OK) {
            return FG_ERR;
        }
    }
    m->owned_by = fg_xstrdup(owned_by ? owned_by
                             : m->endpoints[0]->provider->id);
    if (map != NULL) {
        if (catalog_effort_map(m, map, where, err) != FG_OK) {
            return FG_ERR;
        }
        m->reasoning_effort_map = json_deep_copy(map);
    }
    catalog_model_summarise(m);
    catalog_index_model(cat, i);
    return FG_OK;
}

static int
catalog_load_models(fg_catalog_t *cat, const char *path, fg_err_t *err)
{
    json_t *arr, *item, *endpoints;
    size_t  i, total = 0;

    arr = catalog_load_array(path, "models", err);
    if (arr == NULL) {
        return FG_ERR;
    }
    /* Room for every endpoint at once, so that the models' pointers into
     * the array never move: one a model, or its "endpoints" (a malformed
     * one is refused before any of it is stored). */
    json_array_foreach(arr, i, item) {
        endpoints = json_object_get(item, "endpoints");
        total += json_is_array(endpoints) && json_array_size(endpoints) > 0
                 ? json_array_size(endpoints) : 1;
    }
    cat->models = fg_xcalloc(json_array_size(arr) + 1, sizeof(fg_model_t));
    cat->endpoints = fg_xcalloc(total + 1, sizeof(fg_endpoint_t));
    json_array_foreach(arr, i, item) {
        if (catalog_load_model(cat, i, item, path, err) != FG_OK) {
            json_decref(arr);
            return FG_ERR;
        }
    }
    json_decref(arr);
    return FG_OK;
}

/*
 * A model's "tokens": how its prompts are counted (docs/api.md,
 * "Metering"). Absent: the default profile, no tokenizer.
 *   { "tokenizer": "o200k_base",
 *     "image": { "formula": "tiles", "base": 85, "per_tile": 170 }
 *            | { "formula": "patches", "max_patches": 1536,
 *                "multiplier": 1.62 },
 *     "audio_per_second": 10, "max_token_bytes": 256 }
 */
static int
catalog_model_tokens(fg_model_t *m, json_t *tokens, const char *path,
                     size_t i, fg_err_t *err)
{
    json_error_t jerr;
    json_t      *image = NULL;
    const char  *tokenizer = NULL, *formula = "tiles";
    json_int_t   base = 85, per_tile = 170, max_patches = 1536;
    json_int_t   audio = 10, max_token = FG_TOKCOUNT_MAX_TOKEN_BYTES;
    double       multiplier = 1.62;

    fg_token_profile_default(&m->tokens);
    if (tokens == NULL) {
        return FG_OK;
    }
    if (json_unpack_ex(tokens, &jerr, 0, "{s?s, s?o, s?I, s?I !}",
                       "tokenizer", &tokenizer, "image", &image,
                       "audio_per_second", &audio,
                       "max_token_bytes", &max_token) != 0
        || (image != NULL
            && json_unpack_ex(image, &jerr, 0,
                              "{s:s, s?I, s?I, s?I, s?F !}",
                              "formula", &formula, "base", &base,
                              "per_tile", &per_tile,
                              "max_patches", &max_patches,
                              "multiplier", &multiplier) != 0)) {
        fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                   "%s: models[%zu].tokens: %s", path, i, jerr.text);
        return FG_ERR;
    }
    if (strcmp(formula, "tiles") == 0) {
        m->tokens.image.kind = FG_IMAGE_FORMULA_TILES;
    } else if (strcmp(formula, "patches") == 0) {
        m->tokens.image.kind = FG_IMAGE_FORMULA_PATCHES;
    } else {
        fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                   "%s: models[%zu].tokens.image.formula: \"%s\" is "
                   "neither \"tiles\" nor \"patches\"", path, i, formula);
        return FG_ERR;
    }
    if (base < 0 || per_tile < 0 || max_patches < 1 || multiplier <= 0
        || multiplier > 1000 || base > 1000000 || per_tile > 1000000
        || max_patches > 1000000 || audio < 0 || audio > 100000
        || max_token < 1 || max_token > 65536) {
        fg_err_set(err, FG_E_OUT_OF_RANGE, NULL,
                   "%s: models[%zu].tokens: image figures, the audio rate "
                   "and max_token_bytes must be positive and plausible "
                   "(docs/api.md, \"Metering\")", path, i);
        return FG_ERR;
    }
    m->tokens.image.base = base;
    m->tokens.image.per_tile = per_tile;
    m->tokens.image.max_patches = max_patches;
    m->tokens.image.multiplier = multiplier;
    m->tokens.audio_tokens_per_second = audio;
    m->tokens.max_token_bytes = max_token;
    if (tokenizer != NULL) {
        if (tokenizer[0] == '\0' || strspn(tokenizer,
                "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(tokenizer)
            || strlen(tokenizer) > 64) {
            fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                       "%s: models[%zu].tokens.tokenizer: \"%.64s\" is no "
                       "tokenizer name (lower-case letters, digits, _ and -)",
                       path, i, tokenizer);
            return FG_ERR;
        }
        m->tokenizer = fg_xstrdup(tokenizer);
    }
    return FG_OK;
}

/*
 * Enters model @i in the indexes: its id, and for each endpoint
 * "provider/id" and "provider/upstream_id" (to the endpoint). A name
 * already there keeps what came first, as a scan in catalog order would
 * find it: every name of a model goes in before the next model's. A
 * provider whose id holds a slash is never named by a "provider/model"
 * request (its name ends at the first slash), so its endpoints get no
 * qualified names: one could only shadow another provider's.
 */
static void
catalog_index_model(fg_catalog_t *cat, size_t i)
{
    const fg_model_t    *m = &cat->models[i];
    const fg_endpoint_t *e;
    const char          *names[2];
    size_t               j, k, plen, nlen;
    char                *qualified;

    (void) fg_idindex_add(&cat->models_by_id, m->id, i);
    for (j = 0; j < m->endpoint_count; j++) {
        e = m->endpoints[j];
        if (strchr(e->provider->id, '/') != NULL) {
            continue;
        }
        names[0] = m->id;
        names[1] = e->upstream_id;
        plen = strlen(e->provider->id);
        for (k = 0; k < 2; k++) {
            nlen = strlen(names[k]);
            qualified = fg_xmalloc(plen + 1 + nlen + 1);
            memcpy(qualified, e->provider->id, plen);
            qualified[plen] = '/';
            memcpy(qualified + plen + 1, names[k], nlen + 1);
            (void) fg_idindex_add(&cat->models_by_qualified, qualified,
                                  e->index);
            free(qualified);
        }
    }
}

fg_catalog_t *
fg_catalog_load(const char *providers_path, const char *models_path,
                fg_err_t *err)
{
    fg_catalog_t *cat = fg_xcalloc(1, sizeof(*cat));

    if (catalog_load_providers(cat, providers_path, err) != FG_OK
        || catalog_load_models(cat, models_path, err) != FG_OK) {
        fg_catalog_free(cat);
        return NULL;
    }
    return cat;
}

void
fg_catalog_free(fg_catalog_t *cat)
{
    size_t i;
    char **h;

    if (cat == NULL) {
        return;
    }
    fg_impact_data_free(cat->impact);
    for (i = 0; i < cat->tokenizer_count; i++) {
        fg_bpe_free(cat->tokenizers[i]);
    }
    free(cat->tokenizers);
    for (i = 0; i < cat->provider_count; i++) {
        fg_provider_t *p = &cat->providers[i];

        free(p->id);
        free(p->name);
        free(p->base_url);
        free(p->key_env);
        if (p->api_key != NULL) {
            memset(p->api_key, 0, strlen(p->api_key));
            free(p->api_key);
        }
        for (h = p->headers; h != NULL && *h != NULL; h++) {
            free(*h);
        }
        free(p->headers);
    }
    for (i = 0; i < cat->model_count; i++) {
        free(cat->models[i].id);
        free(cat->models[i].upstream_id);
        free(cat->models[i].owned_by);
        free(cat->models[i].tokenizer);
        json_decref(cat->models[i].reasoning_effort);
        json_decref(cat->models[i].reasoning_effort_map);
        free(cat->models[i].endpoints);
    }
    for (i = 0; i < cat->endpoint_count; i++) {
        free(cat->endpoints[i].upstream_id);
        free(cat->endpoints[i].quantization);
        free(cat->endpoints[i].country);
        json_decref(cat->endpoints[i].reasoning_effort);
        json_decref(cat->endpoints[i].parameters);
    }
    free(cat->providers);
    free(cat->models);
    free(cat->endpoints);
    fg_idindex_cleanup(&cat->providers_by_id);
    fg_idindex_cleanup(&cat->models_by_id);
    fg_idindex_cleanup(&cat->models_by_qualified);
    free(cat);
}

fg_provider_t *
fg_catalog_provider(const fg_catalog_t *cat, const char *id)
{
    size_t i = fg_idindex_find(&cat->providers_by_id, id);

    return i == FG_IDINDEX_NONE ? NULL : &cat->providers[i];
}

const fg_model_t *
fg_catalog_resolve(const fg_catalog_t *cat, const char *requested,
                   const fg_provider_t **pinned)
{
    const fg_endpoint_t *e;
    const fg_model_t    *m;
    size_t               i;

    if (pinned != NULL) {
        *pinned = NULL;
    }
    i = fg_idindex_find(&cat->models_by_id, requested);
    if (i != FG_IDINDEX_NONE) {
        m = &cat->models[i];
        return catalog_model_is_served(m) ? m : NULL;
    }
    if (strchr(requested, '/') == NULL) {
        return NULL;
    }
    i = fg_idindex_find(&cat->models_by_qualified, requested);
    if (i == FG_IDINDEX_NONE) {
        return NULL;
    }
    /* Every endpoint a qualified name can map to is at the provider it
     * names, so the first one's being disabled is the name's. */
    e = &cat->endpoints[i];
    if (!e->provider->is_enabled) {
        return NULL;
    }
    if (pinned != NULL) {
        *pinned = e->provider;
    }
    return e->model;
}

const fg_model_t *
fg_catalog_route(const fg_catalog_t *cat, const char *requested)
{
    return fg_catalog_resolve(cat, requested, NULL);
}

const fg_endpoint_t *
fg_catalog_endpoint(const fg_model_t *m, const fg_provider_t *provider)
{
    size_t k;

    for (k = 0; k < m->endpoint_count; k++) {
        if (m->endpoints[k]->provider == provider) {
            return m->endpoints[k];
        }
    }
    return NULL;
}

/* The "pricing" object of the model and endpoint JSON. */
static json_t *
catalog_pricing_json(int64_t prompt, int64_t cached, int64_t completion)
{
    return json_pack("{s:I, s:I, s:I, s:s}",
                     "prompt_per_mtok_micro", (json_int_t) prompt,
                     "cached_prompt_per_mtok_micro", (json_int_t) cached,
                     "completion_per_mtok_micro", (json_int_t) completion,
                     "unit", "micro-credits per million tokens");
}

/* Widens [@range[0], @range[1]] to hold @v. */
static void
catalog_widen(int64_t range[2], int64_t v)
{
    range[0] = v < range[0] ? v : range[0];
    range[1] = v > range[1] ? v : range[1];
}

json_t *
fg_catalog_model_json(const fg_model_t *m)
{
    const fg_endpoint_t *e;
    int                  served = catalog_model_is_served(m);
    int64_t              prompt[2] = { INT64_MAX, 0 };
    int64_t              completion[2] = { INT64_MAX, 0 };
    size_t               k, enabled = 0;
    json_t              *pricing;

    for (k = 0; k < m->endpoint_count; k++) {
        e = m->endpoints[k];
        enabled += e->provider->is_enabled;
        if (catalog_endpoint_counts(e, served)) {
            catalog_widen(prompt, e->prompt_per_mtok_micro);
            catalog_widen(completion, e->completion_per_mtok_micro);
        }
    }
    pricing = catalog_pricing_json(m->prompt_per_mtok_micro,
                                   m->cached_prompt_per_mtok_micro,
                                   m->completion_per_mtok_micro);
    json_object_set_new(pricing, "range",
                        json_pack("{s:[I, I], s:[I, I]}",
                                  "prompt_per_mtok_micro",
                                  (json_int_t) prompt[0],
                                  (json_int_t) prompt[1],
                                  "completion_per_mtok_micro",
                                  (json_int_t) completion[0],
                                  (json_int_t) completion[1]));
    return json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:b, s:b, s:O,"
                     " s:o, s:I, s:f, s:s*}",
                     "id", m->id, "object", "model",
                     "created", (json_int_t) m->created,
                     "owned_by", m->owned_by,
                     "context_window", (json_int_t) m->context_window,
                     "context_length", (json_int_t) m->context_window,
                     "max_output_tokens", (json_int_t) m->max_output_tokens,
                     "supports_vision", m->supports_vision,
                     "supports_tools", m->supports_tools,
                     "reasoning_effort", m->reasoning_effort,
                     "pricing", pricing,
                     "endpoints", (json_int_t) enabled,
                     "quality", m->quality,
                     "tokenizer", m->tokenizer);
}

json_t *
fg_catalog_endpoint_json(const fg_endpoint_t *e)
{
    json_t *apis = json_array();
    size_t  k;

    for (k = 0; k < CATALOG_API_COUNT; k++) {
        if (e->apis & catalog_api_names[k].bit) {
            json_array_append_new(apis,
                                  json_string(catalog_api_names[k].name));
        }
    }
    return json_pack("{s:s, s:s, s:s, s:s?, s:o, s:I, s:I,"
                     " s:{s:b, s:b, s:b, s:O, s:s, s:o}, s:s?, s:o, s:b}",
                     "provider", e->provider->id,
                     "provider_name", e->provider->name,
                     "upstream_id", e->upstream_id,
                     "location", e->location,
                     "carbon_intensity", e->carbon_intensity < 0
                     ? json_null() : json_real(e->carbon_intensity),
                     "context_window", (json_int_t) e->context_window,
                     "max_output_tokens", (json_int_t) e->max_output_tokens,
                     "capabilities",
                     "vision", e->supports_vision,
                     "tools", e->supports_tools,
                     "json_schema", e->supports_json_schema,
                     "reasoning_effort", e->reasoning_effort,
                     "reasoning_format",
                     catalog_formats[e->reasoning_format],
                     "apis", apis,
                     "quantization", e->quantization,
                     "pricing",
                     catalog_pricing_json(e->prompt_per_mtok_micro,
                                          e->cached_prompt_per_mtok_micro,
                                          e->completion_per_mtok_micro),
                     "enabled", e->provider->is_enabled);
}

/*
 * Where endpoint @e runs and what a million of its prompt and completion
 * tokens emit there, so that ranking by carbon is two multiplications a
 * candidate. The impact tables are attached.
 */
static int
catalog_endpoint_impact(const fg_catalog_t *cat, fg_endpoint_t *e,
                        const char *dir, fg_err_t *err)
{
    /* A million prompt tokens, then a million completion tokens. */
    static const fg_impact_usage_t per_mtok[2] = {
        { 1000000, 0, 0, 0 }, { 0, 0, 1000000, 0 }
    };
    double                        *co2[2];
    const fg_impact_provider_t    *p;
    const fg_impact_country_t     *c;
    fg_impact_t                    out;
    size_t                         k;

    if (e->country != NULL) {
        c = fg_impact_data_country(cat->impact, e->country);
        if (c == NULL) {
            return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                              "model \"%s\", endpoint at \"%s\": country "
                              "\"%s\" is not in %s/countries.json",
                              e->model->id, e->provider->id, e->country,
                              dir);
        }
    } else {
        p = fg_impact_data_provider(cat->impact, e->provider->id);
        c = p != NULL ? p->country : NULL;
    }
    e->location = c != NULL ? c->code : "WORLD";
    e->carbon_intensity = c != NULL ? c->ci_g_per_kwh : -1;
    co2[0] = &e->co2_g_per_mtok_prompt;
    co2[1] = &e->co2_g_per_mtok_completion;
    for (k = 0; k < 2; k++) {
        if (fg_impact_data_estimate_at(cat->impact, e->model->id,
                                       e->provider->id, e->country, e->pue,
                                       &per_mtok[k], cat->impact_flags, &out,
                                       err) != FG_OK) {
            return FG_ERR;
        }
        *co2[k] = out.mid.carbon_g_co2;
    }
    return FG_OK;
}

int
fg_catalog_attach_impact(fg_catalog_t *cat, const char *dir, unsigned flags,
                         fg_err_t *err)
{
    const char **models = fg_xcalloc(cat->model_count + 1, sizeof(char *));
    const char **providers = fg_xcalloc(cat->provider_count + 1,
                                        sizeof(char *));
    size_t       i;

    for (i = 0; i < cat->model_count; i++) {
        models[i] = cat->models[i].id;
    }
    for (i = 0; i < cat->provider_count; i++) {
        providers[i] = cat->providers[i].id;
    }
    cat->impact = fg_impact_data_load(dir, models, cat->model_count,
                                      providers, cat->provider_count, err);
    cat->impact_flags = flags;
    free(models);
    free(providers);
    if (cat->impact == NULL) {
        return FG_ERR;
    }
    for (i = 0; i < cat->endpoint_count; i++) {
        if (catalog_endpoint_impact(cat, &cat->endpoints[i], dir, err)
            != FG_OK) {
            fg_impact_data_free(cat->impact);
            cat->impact = NULL;
            return FG_ERR;
        }
    }
    return FG_OK;
}

int
fg_catalog_attach_tokenizers(fg_catalog_t *cat, const char *dir,
                             fg_err_t *err)
{
    size_t    i, k;
    char      path[4096];
    fg_bpe_t *bpe;
    fg_err_t  berr;

    for (i = 0; i < cat->model_count; i++) {
        fg_model_t *m = &cat->models[i];

        if (m->tokenizer == NULL) {
            continue;
        }
        bpe = NULL;
        for (k = 0; k < cat->tokenizer_count && bpe == NULL; k++) {
            if (strcmp(fg_bpe_name(cat->tokenizers[k]), m->tokenizer) == 0) {
                bpe = cat->tokenizers[k];
            }
        }
        if (bpe == NULL) {
            snprintf(path, sizeof(path), "%s/%s.json", dir, m->tokenizer);
            bpe = fg_bpe_load(path, &berr);
            if (bpe == NULL) {
                fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                           "model \"%s\": tokenizer \"%s\": %s", m->id,
                           m->tokenizer, berr.msg);
                return FG_ERR;
            }
            if (strcmp(fg_bpe_name(bpe), m->tokenizer) != 0) {
                fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                           "model \"%s\": %s names tokenizer \"%s\"",
                           m->id, path, fg_bpe_name(bpe));
                fg_bpe_free(bpe);
                return FG_ERR;
            }
            cat->tokenizers = fg_xrealloc(cat->tokenizers,
                                          (cat->tokenizer_count + 1)
                                          * sizeof(*cat->tokenizers));
            cat->tokenizers[cat->tokenizer_count++] = bpe;
        }
        m->tokens.bpe = bpe;
    }
    return FG_OK;
}
