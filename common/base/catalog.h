#ifndef FG_COMMON_CATALOG_H
#define FG_COMMON_CATALOG_H

/*
 * The provider and model catalogs (etc/providers.json, etc/models.json).
 *
 * A provider is an OpenAI-compatible upstream: a base URL, the name of the
 * environment variable that holds its API key, extra headers and timeouts.
 * A provider is enabled when its key variable is set (or it names none);
 * the key itself is read from the environment at load time and lives only
 * in process memory. A model is a public id served by one provider under
 * the provider's own model name, with its capabilities and prices.
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

typedef struct {
    char          *id;             /* public id, as tenants name it */
    char          *upstream_id;    /* the provider's name for it */
    fg_provider_t *provider;       /* borrowed from the catalog */
    int64_t        created;
    char          *owned_by;
    int64_t        context_window;
    int64_t        max_output_tokens;
    int            supports_vision;
    int            supports_tools;
    json_t        *reasoning_effort;   /* array of strings, owned */
    int64_t        prompt_per_mtok_micro;
    int64_t        cached_prompt_per_mtok_micro;
    int64_t        completion_per_mtok_micro;
    int64_t        requests_per_min;   /* global, all keys; 0 = none */
    int64_t        tokens_per_min;
    char          *tokenizer;          /* "o200k_base"; NULL: none */
    fg_token_profile_t tokens;         /* how its prompts are counted;
                                          .bpe is set by
                                          fg_catalog_attach_tokenizers() */
} fg_model_t;

typedef struct {
    fg_provider_t    *providers;
    size_t            provider_count;
    fg_model_t       *models;
    size_t            model_count;
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
 * of @catalog (a model or provider without an entry is an error naming
 * it) and attaches them to it with @flags. FG_OK, or FG_ERR with @err set.
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
 * first is found. Only models of enabled providers are found. Borrowed;
 * NULL when none. A few hash look-ups, no allocation.
 */
const fg_model_t *fg_catalog_route(const fg_catalog_t *catalog,
                                   const char *requested);

/*
 * The OpenAI model object for @model ({"id","object":"model",...}), with
 * context window, capabilities, pricing and the tokenizer its prompts
 * are counted with (absent when none ships). Returns a new reference.
 */
json_t *fg_catalog_model_json(const fg_model_t *model);

#endif
