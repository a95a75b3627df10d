#ifndef FG_COMMON_CATALOG_H
#define FG_COMMON_CATALOG_H

/*
 * The provider and model catalogs (etc/providers.json, etc/models.json).
 *
 * A provider is an OpenAI-compatible upstream: a base URL, the name of the
 * environment variable that holds its API key, extra headers and timeouts.
 * A provider is enabled when its key variable is set (or it names none);
 * the key itself is read from the environment at load time and lives only
 * in process memory. A model is a public id served by one or more
 * endpoints: a provider, the provider's own name for the model, its
 * prices, window and capabilities (docs/routing.md).
 *
 * The catalog is immutable after load; fg_catalog_free() releases it.
 * Look-ups by id are hashed (common/base/idindex.h), built at load, and
 * allocate nothing.
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/base/errors.h"
#include "common/base/idindex.h"
#include "common/accounts/impact_data.h"
#include "common/tokens/bpe.h"
#include "common/tokens/tokcount.h"

typedef struct {
    char       *id;
    char       *name;
    char       *base_url;          /* no trailing slash: ".../v1" */
    char       *key_env;           /* NULL: no key needed */
    char       *api_key;           /* from the environment; NULL if none */
    char      **headers;           /* "Name: value" lines, NULL-terminated */
    int         is_enabled;
    int64_t     connect_timeout_ms;
    int64_t     first_byte_timeout_ms;
    int64_t     idle_timeout_ms;   /* between stream chunks */
    int64_t     total_timeout_ms;
    int64_t     requests_per_min;  /* global, all keys; 0 = none */
    int64_t     tokens_per_min;
} fg_provider_t;

/* The APIs an endpoint serves (fg_endpoint_t.apis). */
#define FG_API_CHAT        (1u << 0)   /* POST /v1/chat/completions */
#define FG_API_RESPONSES   (1u << 1)   /* POST /v1/responses */
#define FG_API_EMBEDDINGS  (1u << 2)   /* POST /v1/embeddings */
#define FG_API_COMPLETIONS (1u << 3)   /* POST /v1/completions (legacy) */

/* Most endpoints one model may have (etc/models.json). */
#define FG_CATALOG_MAX_ENDPOINTS 32

/* Quality figure of a model the catalog gives none (docs/routing.md). */
#define FG_CATALOG_QUALITY_DEFAULT 50.0

typedef struct fg_model_s fg_model_t;

/*
 * The form in which an endpoint takes the request's "reasoning" object
 * (docs/routing.md, "Reasoning"); worker/upstream_body.c writes it.
 */
typedef enum {
    FG_REASONING_EFFORT = 0,      /* "reasoning_effort": "<value>" */
    FG_REASONING_THINKING,        /* "thinking": {"type": "enabled",
                                     "budget_tokens": N}: Anthropic's
                                     OpenAI-compatible form */
    FG_REASONING_THINKING_BUDGET, /* "enable_thinking": true,
                                     "thinking_budget": N: Qwen's form */
    FG_REASONING_NONE             /* nothing is sent */
} fg_reasoning_format_t;

/*
 * An endpoint: one provider serving one model under its own id, at its
 * own prices, window and capabilities. A model entry without "endpoints"
 * has exactly one, made of the model's own fields; an entry of the
 * model's "endpoints" array takes every field it does not give from the
 * model. Country and PUE come from the impact tables (the provider's);
 * an endpoint may override them, never duplicate them.
 */
typedef struct {
    const fg_model_t *model;           /* the model it serves (borrowed) */
    fg_provider_t    *provider;        /* borrowed from the catalog */
    char             *upstream_id;     /* the provider's name for it */
    size_t            index;           /* in fg_catalog_t.endpoints */
    int64_t           context_window;
    int64_t           max_output_tokens;
    int               supports_vision;
    int               supports_tools;
    int               supports_json_schema;
    json_t           *reasoning_effort;    /* array of strings, owned */
    fg_reasoning_format_t reasoning_format; /* default: FG_REASONING_EFFORT
                                              with a reasoning_effort
                                              value, else NONE */
    unsigned          apis;                /* FG_API_*; default chat */
    char             *quantization;        /* "fp8", "bf16", ...; NULL:
                                              unknown */
    json_t           *parameters;          /* array of the top-level
                                              request fields it accepts,
                                              owned; NULL: every field */
    int64_t           prompt_per_mtok_micro;
    int64_t           cached_prompt_per_mtok_micro;
    int64_t           completion_per_mtok_micro;
    int64_t           requests_per_min;    /* global, all keys; 0 = none */
    int64_t           tokens_per_min;
    char             *country;             /* override of the provider's
                                              data-centre country (ISO
                                              3166 alpha-2); NULL: none */
    double            pue;                 /* override of the provider's
                                              PUE; 0: none */

    /* Set by fg_catalog_attach_impact(): where it runs and what a token
     * there costs the climate, for routing (docs/routing.md). */
    const char       *location;            /* ISO code, or "WORLD" */
    double            carbon_intensity;    /* g CO2e/kWh of that grid;
                                              -1 unknown */
    double            co2_g_per_mtok_prompt;      /* mid estimate */
    double            co2_g_per_mtok_completion;

    /* Set by the master before the workers fork (fg_health_bind): the
     * endpoint's slot in the shared health table; -1 none. */
    int               health_slot;
} fg_endpoint_t;

struct fg_model_s {
    char          *id;             /* public id, as tenants name it */
    /* The first endpoint's provider and id: for code that names one. A
     * request's provider is its endpoint's (router.h), never this. */
    char          *upstream_id;
    fg_provider_t *provider;       /* borrowed from the catalog */
    int64_t        created;
    char          *owned_by;
    /* What /v1/models shows: the widest window and output, capabilities
     * at least one endpoint offers, the cheapest endpoint's prices. */
    int64_t        context_window;
    int64_t        max_output_tokens;
    int            supports_vision;
    int            supports_tools;
    json_t        *reasoning_effort;   /* array of strings, owned: the
                                          union of the endpoints' */
    json_t        *reasoning_effort_map;  /* object, owned; NULL: none.
                                             A reasoning_effort value a
                                             client may send to the one
                                             sent instead where it is not
                                             accepted (router.h); plain
                                             names, every value accepted
                                             by one endpoint at least */
    int64_t        prompt_per_mtok_micro;
    int64_t        cached_prompt_per_mtok_micro;
    int64_t        completion_per_mtok_micro;
    int64_t        requests_per_min;   /* global, all keys; 0 = none */
    int64_t        tokens_per_min;
    char          *tokenizer;          /* "o200k_base"; NULL: none */
    fg_token_profile_t tokens;         /* how its prompts are counted;
                                          .bpe is set by
                                          fg_catalog_attach_tokenizers() */
    double         quality;            /* 0-100, for the quality preset;
                                          FG_CATALOG_QUALITY_DEFAULT
                                          when the catalog gives none */
    fg_endpoint_t **endpoints;         /* endpoint_count >= 1, in catalog
                                          order; borrowed pointers into
                                          fg_catalog_t.endpoints */
    size_t         endpoint_count;
};

typedef struct {
    fg_provider_t    *providers;
    size_t            provider_count;
    fg_model_t       *models;
    size_t            model_count;
    fg_endpoint_t    *endpoints;       /* every model's, model by model */
    size_t            endpoint_count;
    fg_impact_data_t *impact;          /* owned; NULL until attached */
    fg_bpe_t        **tokenizers;      /* owned, one per name in use */
    size_t            tokenizer_count;
    unsigned          impact_flags;    /* FG_IMPACT_* */
    /* Private to catalog.c: the look-ups of fg_catalog_provider() and
     * fg_catalog_route(), built at load. */
    fg_idindex_t      providers_by_id;
    fg_idindex_t      models_by_id;
    fg_idindex_t      models_by_qualified; /* "provider/id" and
                                              "provider/upstream_id" */
} fg_catalog_t;

/*
 * Loads both catalog files. Provider keys and base-URL overrides are read
 * from the environment now. Returns an owned catalog (fg_catalog_free), or
 * NULL with @err naming the file, the entry and what is wrong.
 */
fg_catalog_t *fg_catalog_load(const char *providers_path,
                              const char *models_path, fg_err_t *err);

/* Frees @catalog and its impact data. */
void fg_catalog_free(fg_catalog_t *catalog);

/*
 * Loads the impact tables of the folder @dir for every model and provider
 * of @catalog (a model or provider without an entry, or an endpoint whose
 * country override the countries table lacks, is an error naming it) and
 * attaches them to it with @flags; fills each endpoint's location,
 * carbon_intensity and CO2 per million tokens. FG_OK, or FG_ERR with
 * @err set.
 */
int fg_catalog_attach_impact(fg_catalog_t *catalog, const char *dir,
                             unsigned flags, fg_err_t *err);

/*
 * Loads the tokenizer of every model that names one, from the folder @dir
 * (NAME.json there: common/tokens/bpe.h), once per name, and points the
 * models' token profiles at it. FG_OK, or FG_ERR with @err naming the
 * model and the file.
 */
int fg_catalog_attach_tokenizers(fg_catalog_t *catalog, const char *dir,
                                 fg_err_t *err);

/* Borrowed; NULL when unknown. */
fg_provider_t *fg_catalog_provider(const fg_catalog_t *catalog,
                                   const char *id);

/*
 * Resolves a requested model id: an exact catalog id, or "provider/model"
 * naming a provider and one of its models by public or upstream id (the
 * first such model in catalog order). When two models share an id, the
 * first is found. Only models with an endpoint of an enabled provider are
 * found. Borrowed; NULL when none. A few hash look-ups, no allocation.
 * When @pinned is not NULL it is set to the provider a "provider/model"
 * name named (the request may use only it), NULL for a plain id.
 */
const fg_model_t *fg_catalog_resolve(const fg_catalog_t *catalog,
                                     const char *requested,
                                     const fg_provider_t **pinned);

/* fg_catalog_resolve() without the pinned provider. */
const fg_model_t *fg_catalog_route(const fg_catalog_t *catalog,
                                   const char *requested);

/* Model @model's endpoint served by @provider, or NULL. Borrowed. */
const fg_endpoint_t *fg_catalog_endpoint(const fg_model_t *model,
                                         const fg_provider_t *provider);

/*
 * The OpenAI model object for @model ({"id","object":"model",...}), with
 * context window, capabilities (what at least one enabled endpoint
 * offers), pricing (the cheapest enabled endpoint's, plus "range": the
 * lowest and highest of each price), "endpoints" (how many are enabled),
 * "quality" and the tokenizer its prompts are counted with (absent when
 * none ships). Returns a new reference.
 */
json_t *fg_catalog_model_json(const fg_model_t *model);

/*
 * One endpoint's static description for GET /v1/models/{id}/endpoints:
 * {"provider", "provider_name", "upstream_id", "location",
 * "carbon_intensity", "context_window", "max_output_tokens",
 * "capabilities": {"vision", "tools", "json_schema", "reasoning_effort",
 * "reasoning_format", "apis"}, "quantization", "pricing": {...}}. The
 * worker adds the live health. Returns a new reference.
 */
json_t *fg_catalog_endpoint_json(const fg_endpoint_t *endpoint);

#endif
